"""The convolutional scattering estimator: training, persistence, family estimators, the procedural training
images and `invscat fit --kind convolutional`."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import blurred_pairs
from invscat import data
from invscat.cli import app
from invscat.estimators import ConvolutionalEstimator, ScatteringEstimator
from invscat.tasks import SuperResolution, Tomography


@pytest.mark.slow
def test_training_beats_the_first_reconstructions_own_scattering():
    """A blur changes the scattering predictably: the trained network must predict the sharp images' scattering
    better than the blurred images' own, on held-out pairs, in the regulariser's metric."""
    first, truth = blurred_pairs()
    estimator = ConvolutionalEstimator(J=2, L=4, width=16, depth=3).fit(first, truth, epochs=15, validation=0.2)
    errors = estimator.validation_error
    assert errors["network"] < 0.7 * errors["identity"]
    assert len(estimator.history) == 15 and all("validation" in row for row in estimator.history)


def test_untrained_network_predicts_the_first_scattering_and_any_size_works():
    first, truth = blurred_pairs(count=4)
    estimator = ConvolutionalEstimator(J=2, L=4, width=8, depth=2).fit(first, truth, epochs=1, learning_rate=0.0)
    torch.testing.assert_close(estimator.predict(first[:2]), estimator.scatter(first[:2]).float(),
                               rtol=1e-5, atol=1e-6)
    odd = np.random.default_rng(0).random((1, 37, 50)).astype(np.float32)  # sides not multiples of 2^J
    assert tuple(estimator.predict(odd).shape) == tuple(estimator.scatter(odd).shape)


def test_save_load_round_trip_and_malformed_files(tmp_path):
    first, truth = blurred_pairs(count=8)
    estimator = ConvolutionalEstimator(J=2, L=4, width=8, depth=2, metadata={"task": "tomo", "views": 30})
    estimator.fit(first, truth, epochs=2)
    estimator.lam = 3e-4
    path = tmp_path / "cnn.pt"
    estimator.save(path)
    loaded = ScatteringEstimator.load(path, task="tomo", views=30)
    assert isinstance(loaded, ConvolutionalEstimator) and loaded.lam == 3e-4
    torch.testing.assert_close(loaded.predict(first[:2]), estimator.predict(first[:2]))
    with pytest.raises(ValueError, match="views=30, not views=60"):
        ScatteringEstimator.load(path, views=60)
    state = torch.load(path, weights_only=True)
    state["input_scale"] = -state["input_scale"]
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt: a malformed convolutional estimator file"):
        ScatteringEstimator.load(tmp_path / "bad.pt")
    del state["weights"]
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="malformed convolutional estimator file"):
        ScatteringEstimator.load(tmp_path / "bad.pt")


def test_dilated_networks_see_further_and_survive_a_round_trip(tmp_path):
    """With dilations (1, 2, 1) a cell's prediction depends on cells 4 away (1 + 2 + 1), without them on 3."""
    first, truth = blurred_pairs(count=4, size=64)
    estimator = ConvolutionalEstimator(J=2, L=4, width=8, depth=3, dilations=(1, 2, 1)).fit(first, truth, epochs=1)
    for layer in estimator.network.layers:
        torch.nn.init.normal_(layer.weight, std=0.3)
    image = torch.as_tensor(first[:1])
    nudged = image.clone()
    nudged[..., 8 * 4:8 * 4 + 4, 8 * 4:8 * 4 + 4] += 1.0  # cell (8, 8) of the input grid
    change = (estimator.network(estimator._inputs(nudged, estimator.scatter(image).float()))
              - estimator.network(estimator._inputs(image, estimator.scatter(image).float()))).abs().sum((0, 1))
    assert change[8, 4] > 0 and change[8, 3] == 0
    path = tmp_path / "dilated.pt"
    estimator.save(path)
    loaded = ScatteringEstimator.load(path)
    assert loaded.dilations == (1, 2, 1)
    torch.testing.assert_close(loaded.predict(first[:2]), estimator.predict(first[:2]))
    with pytest.raises(ValueError, match="dilations must be 3 integers"):
        ConvolutionalEstimator(depth=3, dilations=(1, 2))


def test_fine_tuning_starts_from_the_initial_network(tmp_path):
    first, truth = blurred_pairs(count=8)
    base = ConvolutionalEstimator(J=2, L=4, width=8, depth=2).fit(first, truth, epochs=2)
    tuned = ConvolutionalEstimator(J=2, L=4, width=8, depth=2).fit(first[:4], truth[:4], epochs=1,
                                                                   learning_rate=1e-12, initial=base)
    torch.testing.assert_close(tuned.predict(first[4:]), base.predict(first[4:]))
    assert tuned.channel_scale is not base.channel_scale
    with pytest.raises(ValueError, match="the initial network must be fitted and have this estimator's"):
        ConvolutionalEstimator(J=2, L=4, width=16, depth=2).fit(first, truth, epochs=1, initial=base)
    ConvolutionalEstimator(J=2, width=8, depth=2).fit(first, truth, epochs=1).save(tmp_path / "base.pt")
    result = CliRunner().invoke(app, ["fit", "tomo", "--size", "32", "--views", "10", "--count", "4", "--kind",
                                      "convolutional", "--epochs", "1", "--learning-rate", "1e-4", "--init",
                                      str(tmp_path / "base.pt"), "--lam", "1e-4", "--tv-weight", "5e-4", "-o",
                                      str(tmp_path / "tuned.pt")])
    assert result.exit_code == 0, result.output
    tuned = ScatteringEstimator.load(tmp_path / "tuned.pt")
    assert tuned.width == 8 and (tuned.lam, tuned.tv_weight) == (1e-4, 5e-4)  # the initial network's shape
    result = CliRunner().invoke(app, ["fit", "tomo", "--kind", "convolutional", "--init", str(tmp_path / "none.pt"),
                                      "-o", str(tmp_path / "x.pt")])
    assert result.exit_code == 2 and "no such estimator file" in result.output
    result = CliRunner().invoke(app, ["fit", "tomo", "--kind", "convolutional", "--J", "3", "--init",
                                      str(tmp_path / "base.pt"), "-o", str(tmp_path / "x.pt")])
    assert result.exit_code == 2 and "a network for J=2, L=8, not the J=3" in result.output
    result = CliRunner().invoke(app, ["fit", "tomo", "--lam", "-1", "-o", str(tmp_path / "x.pt")])
    assert result.exit_code == 2 and "--lam and --tv-weight must be positive" in result.output


def test_larger_training_images_are_reconstructed_at_their_size_and_tiled(monkeypatch):
    from invscat.tasks import fit

    images = np.arange(2 * 64 * 64, dtype=np.float32).reshape(2, 64, 64)
    np.testing.assert_array_equal(fit._tiles(images, 32)[1], images[0, :32, 32:])
    np.testing.assert_array_equal(fit._tiles(images, 32)[6], images[1, 32:, :32])
    sizes, pairs = [], {}
    reconstruct = Tomography.first_reconstruction
    monkeypatch.setattr(Tomography, "first_reconstruction",
                        lambda task, y: sizes.append(task.size) or reconstruct(task, y))
    monkeypatch.setattr(ConvolutionalEstimator, "fit", lambda self, first, truth, **_: pairs.update(
        first=first, truth=truth) or self)
    fit.fit_estimator(Tomography(views=8, size=32), count=8, kind="convolutional", larger=(64,), scales=(64,))
    assert set(sizes) == {32, 64}
    base = 8 + int(8 * Tomography.training_phantoms)
    extra = 1 + int(Tomography.training_phantoms)  # ceil(8 / (4 * 4)) images of 64x64, four tiles each
    assert pairs["first"].shape == pairs["truth"].shape == (base + 4 * extra, 32, 32)
    with pytest.raises(ValueError, match="multiples of the crop size 32"):
        fit.fit_estimator(Tomography(views=8, size=32), count=8, larger=(48,))


def test_a_family_estimator_serves_any_geometry_of_its_family(tmp_path):
    first, truth = blurred_pairs(count=4)
    estimator = ConvolutionalEstimator(J=2, L=4, width=8, depth=2,
                                       metadata={"task": "tomo", "geometry": "parallel", "family": True})
    estimator.fit(first, truth, epochs=1)
    estimator.save(tmp_path / "family.pt")
    for task in (Tomography(views=45), Tomography(views=60, arc=150, size=256)):
        assert task.load_estimator(tmp_path / "family.pt").metadata["family"]
    with pytest.raises(ValueError, match="geometry='parallel', not geometry='fan'"):
        Tomography(views=45, geometry="fan").load_estimator(tmp_path / "family.pt")
    with pytest.raises(ValueError, match="task='tomo', not task='superres'"):
        SuperResolution(4).load_estimator(tmp_path / "family.pt")


@pytest.mark.parametrize("name", sorted(data.GENERATORS))
def test_procedural_training_images_are_seeded_and_in_range(name):
    make = data.GENERATORS[name]
    image = make(48, seed=20001)
    assert image.shape == (48, 48) and image.dtype == np.float32
    assert image.min() == 0 and image.max() == 1 and image.std() > 0.05
    np.testing.assert_array_equal(image, make(48, seed=20001))
    assert not np.array_equal(image, make(48, seed=20002))


def test_training_images_mix_crops_at_several_scales_and_procedural_images():
    from invscat.tasks.fit import training_images

    crops = training_images(size=32, count=4, synthetic=5, scales=(64, 128))
    assert crops.shape == (9, 32, 32) and 0 <= crops.min() and crops.max() <= 1


def test_fit_convolutional_from_the_command_line(tmp_path):
    output = tmp_path / "cnn.pt"
    result = CliRunner().invoke(app, ["fit", "tomo", "--size", "32", "--views", "10", "--count", "6", "--synthetic",
                                      "4", "--kind", "convolutional", "--epochs", "2", "--depth", "3", "--dilations",
                                      "1", "--dilations", "2", "--dilations", "1", "--larger", "64", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "convolutional; validation error" in result.output
    estimator = ScatteringEstimator.load(output, task="tomo", views=10, size=32)
    assert isinstance(estimator, ConvolutionalEstimator) and estimator.dilations == (1, 2, 1)
    for bad, message in ((["--epochs", "0"], "--epochs >= 1"), (["--larger", "48"], "multiple of the --size 128"),
                         (["--dilations", "2"], "--dilations, if given, 5 integers")):
        result = CliRunner().invoke(app, ["fit", "tomo", "--kind", "convolutional", *bad, "-o", str(tmp_path / "x.pt")])
        assert result.exit_code == 2 and message in result.output, result.output


@pytest.mark.slow
def test_large_images_run_by_tiles_as_they_would_whole(monkeypatch):
    """The scattering method on a local model runs tile by tile above TILE_PIXELS (bounded memory); the tiles'
    margins make the result the whole image's to within a small fraction of its range."""
    import invscat.tasks.base as base
    from invscat import metrics

    task = SuperResolution(2)
    truth = data.load_sample("astronaut", 128)
    _, low = task.simulate(truth, seed=0)
    whole = task.reconstruct(low, "scattering", iters=10).image
    monkeypatch.setattr(base, "TILE_PIXELS", 64 * 64)
    assert len(task._tiles(low.shape, truth.shape)) == 4
    tiled = task.reconstruct(low, "scattering", iters=10)
    assert tiled.image.shape == truth.shape and tiled.iterations > 0
    assert metrics.psnr(tiled.image, whole) > 40
    assert Tomography(views=30)._tiles((30, 183), (1024, 1024)) is None  # CT is never tiled


def test_the_uncertainty_head_weights_the_regulariser(tmp_path):
    from invscat.regularizers import ScatteringRegularizer

    first, truth = blurred_pairs(count=12)
    estimator = ConvolutionalEstimator(J=2, L=4, width=8, depth=2, uncertainty=True).fit(first, truth, epochs=3)
    weights = estimator.confidence(first[:2])
    assert weights.shape == estimator.predict(first[:2]).shape and (weights > 0).all()
    torch.testing.assert_close(weights.mean(dim=(1, 2, 3)), torch.ones(2))
    estimator.save(tmp_path / "u.pt")
    loaded = ScatteringEstimator.load(tmp_path / "u.pt")
    torch.testing.assert_close(loaded.confidence(first[:2]), weights)
    regulariser = ScatteringRegularizer.from_estimator(loaded, first[:2])
    assert regulariser.weight.shape == weights.shape
    with pytest.raises(ValueError, match="confidence must be finite weights"):
        ScatteringRegularizer(regulariser.transform, regulariser.target, confidence=-weights)


def test_shipped_estimators_are_chosen_best_first_and_by_kind(tmp_path, monkeypatch):
    """The exact setting's estimators (ensemble, convolutional, ridge), then the family's in the same order; a
    kind picks one."""
    import shutil

    from invscat.estimators import EnsembleEstimator, pretrained

    task = Tomography(views=30)
    ridge = pretrained.DIRECTORY / task.estimator_filename()
    monkeypatch.setattr(pretrained, "DIRECTORY", tmp_path)
    shutil.copy(ridge, tmp_path / ridge.name)
    assert type(task.load_estimator()) is ScatteringEstimator
    first, truth = blurred_pairs(count=4)
    family = ConvolutionalEstimator(J=2, L=8, width=8, depth=2,
                                    metadata={"task": "tomo", "geometry": "parallel", "family": True})
    family.fit(first, truth, epochs=1)
    family.save(tmp_path / "tomo_parallel_any_cnn.pt")
    assert type(task.load_estimator()) is ScatteringEstimator  # the exact setting's ridge before the family
    assert isinstance(task.load_estimator("convolutional"), ConvolutionalEstimator)
    assert isinstance(Tomography(views=45).load_estimator(), ConvolutionalEstimator)  # no ridge for 45 views
    EnsembleEstimator([ScatteringEstimator.load(ridge), family], metadata=family.metadata).save(
        tmp_path / "tomo_parallel_any_ensemble.pt")
    assert isinstance(Tomography(views=45).load_estimator(), EnsembleEstimator)
    assert isinstance(Tomography(views=45).load_estimator("convolutional"), ConvolutionalEstimator)
    family.metadata = task.metadata()
    family.save(tmp_path / (ridge.stem + "_cnn.pt"))
    assert isinstance(task.load_estimator(), ConvolutionalEstimator)
    EnsembleEstimator([ScatteringEstimator.load(ridge), family]).save(tmp_path / (ridge.stem + "_ensemble.pt"))
    assert isinstance(task.load_estimator(), EnsembleEstimator)
    assert type(task.load_estimator("ridge")) is ScatteringEstimator
    with pytest.raises(ValueError, match="no ridge scattering estimator ships"):
        Tomography(views=45).load_estimator("ridge")
    with pytest.raises(ValueError, match="unknown estimator kind"):
        pretrained.load(task, "cubic")


@pytest.mark.slow
def test_fit_a_family_estimator_from_the_command_line(tmp_path):
    output = tmp_path / "family.pt"
    result = CliRunner().invoke(app, ["fit", "tomo", "--size", "32", "--views", "10", "--count", "4", "--family",
                                      "--kind", "convolutional", "--epochs", "1", "--quiet", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert Tomography(views=45, size=32).load_estimator(output).metadata["family"]
    result = CliRunner().invoke(app, ["fit", "superres", "--family", "-o", str(tmp_path / "x.pt")])
    assert result.exit_code == 2 and "--family is for tasks with a family" in result.output
