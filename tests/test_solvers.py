"""Solvers: agreement with closed forms and with each other, the common result type, and reconstructions that
beat their baselines by the stated margins."""

import numpy as np
import pytest
import torch

from invscat import data, metrics
from invscat import reconstruct as R
from invscat.estimators import LearnedFBP, LinearSuperResolution
from invscat.operators import Downsample, Identity
from invscat.regularizers import Tikhonov, TotalVariation, WaveletL1
from invscat.solvers import cg, fbp, fista, gradient_descent, minimize, pdhg
from invscat.tasks import Deblurring, SuperResolution, Tomography


def test_cg_tikhonov_matches_the_dense_solution():
    A = Downsample((16, 16), 2)
    rng = np.random.default_rng(0)
    y = rng.standard_normal((8, 8)).astype(np.float32)
    lam = 0.1
    matrix = A(np.eye(256, dtype=np.float32).reshape(256, 16, 16)).reshape(256, 64).T.astype(np.float64)
    G = Tikhonov("gradient").normal(torch.eye(256, dtype=torch.float64).reshape(256, 16, 16)).reshape(256, 256).numpy()
    exact = np.linalg.solve(matrix.T @ matrix + lam * G, matrix.T @ y.ravel()).reshape(16, 16)
    result = cg(A, y, Tikhonov("gradient"), lam, iters=500, tol=1e-7)
    assert np.abs(result.image - exact).max() < 1e-3 * np.abs(exact).max()
    assert result.converged and isinstance(result.image, np.ndarray)


def test_pdhg_denoising_agrees_with_the_tv_prox():
    x = torch.from_numpy(data.shepp_logan(32)).double()
    y = x + 0.1 * torch.randn(32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    result = pdhg(Identity((32, 32)), y, TotalVariation(), 0.1, iters=2000, tol=0, balance=1.0)
    prox = TotalVariation().prox(y, 0.1, iters=2000)
    assert torch.abs(result.image - prox).max() < 2e-3
    assert result.objective[-1] <= result.objective[0]


def test_fista_with_identity_is_one_prox_step():
    W = WaveletL1("db2", levels=2, shifts=1)
    y = torch.randn(32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    result = fista(Identity((32, 32)), y, W, 0.3, iters=5, tol=0)
    assert torch.allclose(result.image, W.prox(y, 0.3), atol=1e-6)


def test_minimize_finds_the_minimum_of_a_quadratic():
    target = torch.linspace(-1, 1, 20, dtype=torch.float64)
    for method, iters in (("lbfgs", 20), ("adam", 600)):
        result = minimize(lambda x: torch.sum((x - target) ** 2), torch.zeros(20, dtype=torch.float64),
                          method=method, iters=iters, lr=None if method == "lbfgs" else 0.05)
        assert torch.abs(result.image - target).max() < 1e-3, method
    result = minimize(lambda x: torch.sum((x - target) ** 2), torch.zeros(20, dtype=torch.float64), method="adam",
                      iters=600, lr=0.05, nonnegative=True)
    assert torch.allclose(result.image, target.clamp_min(0), atol=1e-3)


def test_lbfgs_evaluates_each_accepted_point_once_and_matches_torch():
    b = torch.randn(30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def f(x):
        return torch.sum(torch.sqrt(1 + (x - b) ** 2)) + 0.1 * torch.sum(x ** 4)

    calls = []
    result = minimize(lambda x: calls.append(1) or f(x), torch.zeros(30, dtype=torch.float64), iters=15, tol=0)
    x = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    plain = torch.optim.LBFGS([x], lr=1, max_iter=1, max_eval=25, history_size=20, line_search_fn="strong_wolfe",
                              tolerance_grad=0.0, tolerance_change=0.0)
    evaluations = []

    def closure():
        plain.zero_grad()
        value = f(x)
        value.backward()
        evaluations.append(1)
        return value

    for _ in range(15):
        plain.step(closure)
    assert torch.equal(result.image, x.detach())
    assert len(calls) <= 0.6 * len(evaluations)
    assert result.objective[-1] < result.objective[1] - 1  # every iteration's line search may search


def test_result_records_history_stops_on_callback_and_tolerance():
    x = data.shepp_logan(32)
    A = Downsample(x.shape, 2)
    y = A(x)
    seen = []
    result = pdhg(A, y, TotalVariation(), 1e-3, iters=50, tol=0, reference=x,
                  callback=lambda k, image, info: seen.append(info) or k == 7)
    assert result.iterations == 7 and len(result.objective) == len(result.residual) == len(result.psnr) == 7
    assert set(seen[0]) == {"objective", "residual", "psnr"} and result.time_s > 0
    converged = cg(A, y, Tikhonov(), 1e-2, iters=1000, tol=1e-4)
    assert converged.converged and converged.iterations < 1000


def test_gradient_descent_on_smooth_tv_gets_close_to_pdhg():
    x = data.shepp_logan(32)
    A = Downsample(x.shape, 2)
    y = A(x)
    exact = pdhg(A, y, TotalVariation(), 1e-3, iters=500, tol=0).image
    smooth = gradient_descent(A, y, TotalVariation(eps=1e-4), 1e-3, method="lbfgs", iters=300).image
    assert metrics.psnr(smooth, exact) > 30


@pytest.mark.parametrize("solver", [pdhg, fista, gradient_descent])
def test_nonnegative_is_a_projection_in_every_solver(solver):
    y = -np.abs(np.random.default_rng(0).standard_normal((16, 16))).astype(np.float32)
    y[4:12, 4:12] = 1
    regularizer = {pdhg: TotalVariation(), fista: WaveletL1("haar", levels=2), gradient_descent: TotalVariation()}
    result = solver(Identity(y.shape), y, regularizer[solver], 0.05, iters=30, nonnegative=True)
    assert result.image.min() >= 0 and result.image.max() > 0.5


def test_solvers_name_the_capability_they_lack():
    y = np.zeros((8, 8), np.float32)
    with pytest.raises(TypeError, match="PDHG needs .* analysis"):
        pdhg(Identity(y.shape), y, WaveletL1("haar", levels=1), 0.1)
    with pytest.raises(TypeError, match="FISTA needs .* prox"):
        fista(Identity(y.shape), y, TotalVariation() + Tikhonov(), 0.1)
    with pytest.raises(TypeError, match="CG needs .* normal"):
        cg(Identity(y.shape), y, TotalVariation(), 0.1)
    with pytest.raises(ValueError, match="unconstrained"):
        cg(Identity(y.shape), y, Tikhonov(), 0.1, nonnegative=True)


def test_weighted_sum_of_regularizers():
    x = torch.rand(8, 8, dtype=torch.float64)
    tv, tik = TotalVariation(eps=1e-3), Tikhonov("identity")
    R = tv + 0.25 * tik
    assert torch.allclose(R.value(x), tv.value(x) + 0.25 * tik.value(x))
    assert torch.allclose(R.smooth_value(x), tv.smooth_value(x) + 0.25 * tik.smooth_value(x))
    assert (2 * R).terms == [(2.0, tv), (0.5, tik)]
    assert R.provides("smooth_value") and not R.provides("normal") and (tik + tik).provides("normal")


def test_linear_superresolution_learns_an_exactly_linear_map():
    rng = np.random.default_rng(0)
    low = rng.random((6, 12, 12))
    high = np.kron(low, np.ones((3, 3))) * 0.5 + 0.25  # affine, one phase at a time
    estimator = LinearSuperResolution(3, radius=1, ridge=0).fit(low, high)
    test = rng.random((12, 12))
    assert np.abs(estimator.predict(test) - (np.kron(test, np.ones((3, 3))) * 0.5 + 0.25)).max() < 1e-6


def test_learned_fbp_beats_ramp_fbp_on_held_out_phantoms():
    train = np.stack([data.random_ellipses(64, seed=k) for k in range(6)])
    test = np.stack([data.random_ellipses(64, seed=100 + k) for k in range(3)])
    A, _ = R.simulate_tomo(test[0], 30)
    noisy = lambda images, seed: np.stack([R.simulate_tomo(x, 30, seed=seed + k)[1] for k, x in enumerate(images)])
    estimator = LearnedFBP(A).fit(noisy(train, 0), train)
    learned = np.mean([metrics.psnr(estimator.predict(s), x) for s, x in zip(noisy(test, 50), test)])
    ramp = np.mean([metrics.psnr(fbp(A, s, "ram-lak"), x) for s, x in zip(noisy(test, 50), test)])
    assert learned > ramp + 1.0


def test_tv_superresolution_beats_bicubic_by_1db():
    x = data.shepp_logan(128)
    A, y = R.simulate_superres(x, 4)
    tv = metrics.psnr(R.superres(y, 4, "tv").image, x)
    bicubic = metrics.psnr(R.superres(y, 4, "bicubic").image, x)
    assert tv > bicubic + 1.0


def test_tv_sparse_view_ct_beats_fbp_by_3db():
    x = data.shepp_logan(96)
    A, y = R.simulate_tomo(x, 30)
    tv = metrics.psnr(R.tomo(y, A, "tv").image, x)
    assert tv > metrics.psnr(R.tomo(y, A, "fbp").image, x) + 3.0


@pytest.mark.parametrize("method", SuperResolution(2).methods)
def test_every_superres_method_runs_on_colour_batches(method):
    x = np.stack([data.shepp_logan(32)] * 3)
    _, y = R.simulate_superres(x, 2)
    result = R.superres(y, 2, method, iters=5)
    assert result.image.shape == (3, 32, 32) and np.isfinite(result.image).all()


@pytest.mark.parametrize("method", [m for m in Tomography().methods if m != "scattering"])  # no estimator ships for
def test_every_tomo_method_runs(method):  # this geometry: scattering is in test_estimators
    x = data.shepp_logan(32)
    A, y = R.simulate_tomo(x, 12)
    result = R.tomo(y, A, method, iters=5)
    assert result.image.shape == (32, 32) and np.isfinite(result.image).all()


def test_bad_parameters_are_one_sentence():
    with pytest.raises(ValueError, match="unknown method"):
        R.superres(np.zeros((8, 8)), 2, "magic")
    with pytest.raises(ValueError, match="iterations"):
        R.superres(np.zeros((8, 8)), 2, "tv", iters=0)
    with pytest.raises(ValueError, match="weight"):
        R.superres(np.zeros((8, 8)), 2, "tv", lam=-1)
    with pytest.raises(ValueError, match="NaN"):
        pdhg(Identity((4, 4)), np.full((4, 4), np.nan), TotalVariation(), 0.1)


def test_tv_deblurring_beats_tikhonov_and_the_blurred_image():
    x = data.shepp_logan(128)
    task = Deblurring(2.0)
    _, y = task.simulate(x)
    tv = metrics.psnr(task.reconstruct(y, "tv").image, x)
    assert tv > metrics.psnr(task.reconstruct(y, "tikhonov").image, x) + 1.0
    assert tv > metrics.psnr(y, x) + 4.0


@pytest.mark.parametrize("method", [m for m in Deblurring().methods if m != "scattering"])
def test_every_deblur_method_runs_on_colour(method):
    x = np.stack([data.shepp_logan(32)] * 3, axis=-1)
    _, y = Deblurring(1.5).simulate(np.moveaxis(x, -1, 0))
    result = Deblurring(1.5).reconstruct(np.moveaxis(y, 0, -1), method, iters=5, channel_axis=-1)
    assert result.image.shape == (32, 32, 3) and np.isfinite(result.image).all()


def test_linear_method_fits_once_per_geometry(monkeypatch):
    from invscat.estimators.linear import LearnedFBP
    from invscat.tasks import tomo

    tomo._learned_fbp.cache_clear()
    calls = []
    original = LearnedFBP.fit
    monkeypatch.setattr(LearnedFBP, "fit", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    task = Tomography(8, size=32)
    _, y = task.simulate(data.shepp_logan(32))
    task.reconstruct(y, "linear")
    Tomography(8, size=32).reconstruct(y, "linear")  # an equal task: the same fitted filter
    assert len(calls) == 1
