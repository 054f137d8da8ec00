"""Scattering-domain estimators, the scattering regulariser and the `scattering` reconstruction method."""

import numpy as np
import pytest
import torch

from invscat import data, metrics
from invscat import reconstruct as R
from invscat.estimators import ScatteringEstimator, pretrained
from invscat.regularizers import ScatteringRegularizer
from invscat.scattering import Scattering2D
from invscat.solvers import gradient_descent
from invscat.tasks import SuperResolution, Tomography, bicubic
from conftest import cuda


def smooth_images(count, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([data.random_ellipses(size, count=6, seed=int(s)) for s in rng.integers(0, 10**6, count)])


def test_estimator_beats_identity_on_a_learnable_degradation():
    """A blur changes the scattering predictably: the fitted map must predict the sharp image's scattering
    better than the blurred image's own scattering does, on images it was not fitted on."""
    from scipy.ndimage import gaussian_filter

    truth = smooth_images(48)
    blurred = np.stack([gaussian_filter(x, 1.5) for x in truth])
    estimator = ScatteringEstimator(J=2, radius=1).fit(blurred[:40], truth[:40])
    s_true = estimator.scatter(truth[40:])
    before = torch.linalg.vector_norm(estimator.scatter(blurred[40:]) - s_true)
    after = torch.linalg.vector_norm(estimator.predict(blurred[40:]).double() - s_true)
    assert after < 0.5 * before
    assert estimator.validation_error[estimator.ridge] < estimator.validation_error["identity"]


def test_partial_fit_in_batches_equals_one_fit():
    truth = smooth_images(12, seed=1)
    first = truth + 0.05 * np.random.default_rng(0).standard_normal(truth.shape).astype(np.float32)
    whole = ScatteringEstimator(J=2).fit(first, truth, validation=0)
    batched = ScatteringEstimator(J=2)
    for k in range(0, 12, 5):
        batched.partial_fit(first[k:k + 5], truth[k:k + 5])
    batched.fit(validation=0)
    torch.testing.assert_close(whole.weights, batched.weights, rtol=1e-6, atol=1e-9)


def test_save_load_round_trip_and_checks(tmp_path):
    truth = smooth_images(8, seed=2)
    estimator = ScatteringEstimator(J=2, metadata={"task": "tomo", "views": 30, "size": 32}).fit(
        truth * 0.9, truth, validation=0.25)
    path = tmp_path / "estimator.pt"
    estimator.save(path)
    loaded = ScatteringEstimator.load(path, task="tomo", views=30)
    torch.testing.assert_close(loaded.predict(truth[:2]), estimator.predict(truth[:2]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="views=30, not views=60"):
        ScatteringEstimator.load(path, views=60)
    state = torch.load(path, weights_only=True)
    state["version"] = 99
    torch.save(state, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="version 99 is not supported"):
        ScatteringEstimator.load(tmp_path / "future.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="could not be read"):
        ScatteringEstimator.load(tmp_path / "corrupt.pt")
    with pytest.raises(ValueError, match="not been fitted"):
        ScatteringEstimator().predict(truth)


def test_regularizer_is_zero_at_its_target_and_its_gradient_matches_finite_differences():
    S = Scattering2D(2, (16, 16)).double()
    x = torch.rand(16, 16, dtype=torch.float64)
    regularizer = ScatteringRegularizer(S, S(x), torch.rand(S.n_channels) + 0.5)
    assert regularizer.value(x).item() == pytest.approx(0.0, abs=1e-12)
    z = torch.rand(16, 16, dtype=torch.float64, requires_grad=True)
    regularizer.value(z).backward()
    direction = torch.randn(16, 16, dtype=torch.float64)
    h = 1e-6
    with torch.no_grad():
        numeric = (regularizer.value(z + h * direction) - regularizer.value(z - h * direction)) / (2 * h)
    assert (z.grad * direction).sum().item() == pytest.approx(numeric.item(), rel=1e-5)


def test_regularizer_rejects_a_wrong_target():
    S = Scattering2D(2, (16, 16))
    with pytest.raises(ValueError, match="81 scattering channels"):
        ScatteringRegularizer(S, torch.zeros(5, 4, 4))
    with pytest.raises(ValueError, match="NaN"):
        ScatteringRegularizer(S, torch.full((81, 4, 4), float("nan")))


def test_oracle_target_improves_on_its_start():
    """With the true image's scattering as target the objective moves a blurred start towards the truth."""
    truth = data.shepp_logan(32)
    A = SuperResolution(2).operator((32, 32))
    y = A(truth)
    start = bicubic(y, 2)
    S = Scattering2D(2, (32, 32))
    regularizer = ScatteringRegularizer(S, S(torch.from_numpy(truth)))
    result = gradient_descent(A, y, regularizer, 1e-3, x0=start, iters=60)
    assert metrics.psnr(result.image, truth) > metrics.psnr(start, truth) + 1.0


@pytest.mark.parametrize("name", ["superres_x2.pt", "superres_x4.pt", "deblur_sigma2.pt",
                                  "tomo_parallel_30views_180deg_128px_183det.pt", "tomo_parallel_any_cnn.pt",
                                  "tomo_parallel_30views_180deg_128px_183det_ensemble.pt",
                                  "tomo_parallel_any_ensemble.pt", "tomo_parallel_90views_120deg_128px_183det.pt",
                                  "tomo_parallel_90views_120deg_128px_183det_cnn.pt"])
def test_the_default_tasks_ship_an_estimator(name):
    assert name in pretrained.available()


def test_a_setting_without_an_estimator_says_how_to_fit_one():
    with pytest.raises(ValueError, match="invscat fit tomo --size 128 --views 45 --arc 360 --geometry fan"):
        pretrained.load(Tomography(views=45, geometry="fan"))


def test_any_parallel_geometry_has_an_estimator():
    """The CT family estimators serve the settings no exact estimator was fitted for: the restoration estimator by
    default."""
    from invscat.estimators import ConvolutionalEstimator, EnsembleEstimator, RestorationEstimator

    for task in (Tomography(views=45), Tomography(views=30, size=256), Tomography(views=60, arc=150)):
        assert isinstance(pretrained.load(task), RestorationEstimator)
        assert isinstance(pretrained.load(task, "ensemble"), EnsembleEstimator)
        assert isinstance(pretrained.load(task, "convolutional"), ConvolutionalEstimator)


def test_scattering_beats_tv_on_sparse_view_shepp_logan():
    """The shipped 30-view estimator (fitted on other images) gains over TV on the Shepp-Logan phantom."""
    truth = data.shepp_logan(128)
    radon, sinogram = R.simulate_tomo(truth, 30)
    tv = R.tomo(sinogram, radon, "tv").image
    scattering = R.tomo(sinogram, radon, "scattering", iters=30).image
    assert metrics.psnr(scattering, truth) >= metrics.psnr(tv, truth) + 0.5


def test_superres_scattering_with_a_user_estimator(tmp_path):
    task = SuperResolution(factor=2)
    truth = smooth_images(6, size=32, seed=3)
    first = task.first_reconstruction(task.measure(truth, seed=0))
    estimator = ScatteringEstimator(J=2, metadata=task.metadata()).fit(first, truth)
    estimator.save(tmp_path / "x2.pt")
    _, low = R.simulate_superres(truth[0], 2)
    result = R.superres(low, 2, "scattering", estimator=tmp_path / "x2.pt", iters=10)
    assert result.image.shape == (32, 32) and np.isfinite(result.image).all()
    with pytest.raises(ValueError, match="factor=2, not factor=4"):
        R.superres(np.zeros((8, 8), np.float32), 4, "scattering", estimator=tmp_path / "x2.pt")


@cuda
def test_superres_scattering_on_cuda_agrees_with_cpu():
    truth = data.load_sample("brick", 64)
    _, low = R.simulate_superres(truth, 4)
    on_cpu = R.superres(low, 4, "scattering", iters=20).image
    on_gpu = R.superres(low, 4, "scattering", iters=20, device=torch.device("cuda")).image
    assert isinstance(on_gpu, np.ndarray)
    assert abs(metrics.psnr(on_gpu, truth) - metrics.psnr(on_cpu, truth)) < 0.1


def test_training_crops_from_a_folder_of_images(tmp_path):
    from invscat.io import InvscatError, save_image
    from invscat.tasks.fit import training_images

    save_image(tmp_path / "a.png", data.shepp_logan(48))
    np.save(tmp_path / "b.npy", 5 + 3 * data.random_ellipses(40).astype(np.float32))
    crops = training_images(tmp_path, size=32, count=6, phantoms=2)
    assert crops.shape == (8, 32, 32) and crops.dtype == np.float32
    assert crops.min() >= 0 and crops.max() <= 1  # each image scaled to [0, 1]
    with pytest.raises(InvscatError, match="smaller than the 64x64"):
        training_images(tmp_path, size=64, count=2)


def test_fit_refits_and_partial_fit_accumulates():
    rng = np.random.default_rng(0)
    low, other = rng.random((4, 8, 8)), rng.random((4, 8, 8))
    high = np.kron(low, np.ones((2, 2)))
    from invscat.estimators import LinearSuperResolution

    alone = LinearSuperResolution(2, radius=1).fit(low, high).weights
    refitted = LinearSuperResolution(2, radius=1).fit(other, np.kron(other, np.ones((2, 2))) * 3).fit(low, high)
    assert torch.allclose(refitted.weights, alone)
    accumulated = LinearSuperResolution(2, radius=1).partial_fit(other, 3 * np.kron(other, np.ones((2, 2))))
    assert not torch.allclose(accumulated.partial_fit(low, high).weights, alone)


def test_saving_an_estimator_never_follows_a_planted_link(tmp_path):
    # the estimator is written through a random, exclusively created temporary file renamed over the output:
    # a symlink planted at the output (or at the old fixed '.partial' name) is replaced, its target untouched
    estimator = ScatteringEstimator(J=1, L=2).fit(smooth_images(4, size=16, seed=0), smooth_images(4, size=16, seed=1))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "e.pt"
    out.symlink_to(victim)
    (tmp_path / "e.pt.partial").symlink_to(victim)
    estimator.save(out)
    assert victim.read_text() == "keep me" and not out.is_symlink()
    assert ScatteringEstimator.load(out).weights is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.pt", "e.pt.partial", "victim.txt"]


@pytest.mark.parametrize("change, words", [
    (lambda s: s.pop("weights"), "lacks the field 'weights'"),
    (lambda s: s.update(weights=s["weights"][:-1]), "'weights' must be finite numbers of shape"),
    (lambda s: s.update(channel_scale="big"), "'channel_scale' must be a tensor"),
    (lambda s: s.update(scattering={"J": 2}), "integers J, L and max_order"),
    (lambda s: s.update(radius=1.5), "'radius' must be an integer"),
    (lambda s: s.update(lam=-1.0), "'lam' must be a number >= 0"),
])
def test_malformed_estimator_files_name_the_file_and_the_field(tmp_path, change, words):
    shipped = pretrained.DIRECTORY / "superres_x4.pt"
    state = torch.load(shipped, weights_only=True)
    change(state)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(ValueError, match=words) as error:
        ScatteringEstimator.load(path)
    assert str(path) in str(error.value)
