"""The restoration estimator (the scattering of a U-Net's restored image): training, persistence, the shipped
lookup and `invscat fit --kind restoration`."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import blurred_pairs
from invscat.cli import app
from invscat.estimators import RestorationEstimator, ScatteringEstimator
from invscat.tasks import SuperResolution, Tomography


def test_an_untrained_network_returns_its_input_and_any_size_works():
    first, truth = blurred_pairs(count=4)
    estimator = RestorationEstimator(J=2, L=4, width=4).fit(first, truth, epochs=1, learning_rate=0.0, crop=16)
    np.testing.assert_allclose(estimator.restore(first[:2]), first[:2], atol=1e-6)
    torch.testing.assert_close(estimator.predict(first[:2]), estimator.scatter(first[:2]).float(), atol=1e-6,
                               rtol=1e-5)
    odd = np.random.default_rng(0).random((1, 37, 50)).astype(np.float32)  # sides not multiples of 4
    assert estimator.restore(odd).shape == (1, 37, 50)
    assert tuple(estimator.predict(odd).shape) == tuple(estimator.scatter(odd).shape)


def test_the_self_ensemble_is_equivariant_under_flips_and_quarter_turns():
    """Averaged over the eight flips and turns, the restoration commutes with each of them exactly."""
    torch.manual_seed(0)
    estimator = RestorationEstimator(J=2, L=4, width=4, levels=4)
    torch.nn.init.normal_(estimator.network.out.weight)
    estimator.channel_scale = torch.ones(estimator.n_channels, dtype=torch.float64)
    image = np.random.default_rng(0).random((1, 24, 40)).astype(np.float32)
    restored = estimator.restore(image)
    assert restored.shape == image.shape and not np.allclose(restored, image, atol=1e-3)
    for transform in (lambda x: np.rot90(x, 1, (1, 2)), lambda x: x[..., ::-1], lambda x: np.swapaxes(x, 1, 2)):
        np.testing.assert_allclose(estimator.restore(np.ascontiguousarray(transform(image))), transform(restored),
                                   atol=1e-5)
    estimator.self_ensemble = False
    assert not np.allclose(estimator.restore(image[..., ::-1].copy()), restored[..., ::-1], atol=1e-4)


def test_training_restores_better_than_the_first_reconstruction():
    """A blur is learnable: the restored held-out images are closer to the truth than the blurred ones."""
    first, truth = blurred_pairs()
    estimator = RestorationEstimator(J=2, L=4, width=8).fit(first, truth, epochs=15, batch=4, validation=0.2,
                                                            crop=32, learning_rate=3e-3)
    errors = estimator.validation_error
    assert errors["network"] < 0.92 * errors["identity"]
    assert len(estimator.history) == 15 and all("validation" in row for row in estimator.history)


def test_save_load_round_trip_and_malformed_files(tmp_path):
    first, truth = blurred_pairs(count=8)
    estimator = RestorationEstimator(J=2, L=4, width=4, metadata={"task": "tomo", "views": 30})
    estimator.fit(first, truth, epochs=1, crop=16)
    estimator.lam = 1e-3
    path = tmp_path / "restoration.pt"
    estimator.save(path)
    loaded = ScatteringEstimator.load(path, task="tomo", views=30)
    assert isinstance(loaded, RestorationEstimator) and loaded.lam == 1e-3
    torch.testing.assert_close(loaded.predict(first[:2]), estimator.predict(first[:2]))
    with pytest.raises(ValueError, match="views=30, not views=60"):
        ScatteringEstimator.load(path, views=60)
    state = torch.load(path, weights_only=True)
    state["channel_scale"] = -state["channel_scale"]
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt: a malformed restoration estimator file"):
        ScatteringEstimator.load(tmp_path / "bad.pt")
    del state["weights"]
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="malformed restoration estimator file"):
        ScatteringEstimator.load(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="width and levels >= 1"):
        RestorationEstimator(width=0)


def test_four_levels_round_trip_and_files_written_before_levels_read_as_three(tmp_path):
    first, truth = blurred_pairs(count=4)
    estimator = RestorationEstimator(J=2, L=4, width=4, levels=4, self_ensemble=False).fit(first, truth, epochs=1)
    estimator.save(tmp_path / "four.pt")
    loaded = ScatteringEstimator.load(tmp_path / "four.pt")
    assert (loaded.levels, loaded.self_ensemble) == (4, False)
    torch.testing.assert_close(loaded.predict(first[:1]), estimator.predict(first[:1]))
    three = RestorationEstimator(J=2, L=4, width=4).fit(first, truth, epochs=1, crop=16)
    state = three.state()
    state["network"] = {"width": 4}  # as session 11 wrote them
    torch.save(state, tmp_path / "old.pt")
    old = ScatteringEstimator.load(tmp_path / "old.pt")
    assert (old.levels, old.self_ensemble) == (3, False)


def test_the_shipped_restoration_estimators_come_first_for_their_settings():
    task = Tomography(views=30)
    assert isinstance(task.load_estimator(), RestorationEstimator)
    assert type(task.load_estimator("ridge")) is ScatteringEstimator
    assert isinstance(SuperResolution(4).load_estimator(), RestorationEstimator)
    family = Tomography(views=45).load_estimator()  # the family's: the same network, any parallel-beam geometry
    assert isinstance(family, RestorationEstimator) and family.metadata["family"]


def test_fit_restoration_from_the_command_line(tmp_path):
    output = tmp_path / "restoration.pt"
    result = CliRunner().invoke(app, ["fit", "tomo", "--size", "32", "--views", "10", "--count", "6", "--synthetic",
                                      "2", "--kind", "restoration", "--epochs", "1", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "restoration; validation error of the pixels" in result.output
    assert isinstance(ScatteringEstimator.load(output, task="tomo", views=10, size=32), RestorationEstimator)
    result = CliRunner().invoke(app, ["fit", "tomo", "--kind", "restoration", "--init", str(output), "-o",
                                      str(tmp_path / "x.pt")])
    assert result.exit_code == 2 and "trained from scratch" in result.output, result.output
    assert not (tmp_path / "x.pt").exists()
    result = CliRunner().invoke(app, ["fit", "tomo", "--kind", "restoration", "--levels", "0", "-o",
                                      str(tmp_path / "x.pt")])
    assert result.exit_code == 2 and "--levels in 1..6" in result.output, result.output
