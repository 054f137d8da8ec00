"""Operators: adjoint identities, autograd = adjoint, the operator algebra, baselines, noise, phantoms, bad input."""

import numpy as np
import pytest
import torch

from invscat import data
from invscat.noise import gaussian_noise, poisson_noise
from invscat.operators import Downsample, Identity, Radon, limited_angle, sparse_view
from invscat.operators.radon import cuda_available
from invscat.solvers import cgls, fbp, sirt
from invscat.solvers.tomography import parallel_equivalent, rebin_fan_to_parallel


def psnr(reference, estimate):
    return 10 * np.log10(1.0 / np.mean((np.asarray(reference) - np.asarray(estimate)) ** 2))


OPERATORS = {
    "downsample-gaussian-reflect": lambda: Downsample((48, 36), 3),
    "downsample-box-circular": lambda: Downsample((48, 36), 4, kernel="box", boundary="circular"),
    "downsample-bicubic": lambda: Downsample((48, 36), 2, kernel="bicubic"),
    "downsample-array": lambda: Downsample((48, 36), 2, kernel=np.arange(15.0).reshape(3, 5)),
    "radon-parallel": lambda: Radon((40, 32), 17),
    "radon-parallel-strip": lambda: Radon((32, 32), 12, projector="strip", detectors=40),
    "radon-fan": lambda: Radon((32, 40), 20, geometry="fan"),
    "sparse-view": lambda: sparse_view((32, 32), 8),
    "limited-angle": lambda: limited_angle((32, 32), 30, 120),
}


@pytest.mark.parametrize("name", OPERATORS)
def test_adjoint_identity(name):
    assert OPERATORS[name]().adjoint_test() < 1e-4


@pytest.mark.parametrize("name", OPERATORS)
def test_autograd_gradient_is_the_adjoint(name):
    A = OPERATORS[name]()
    x = torch.rand(2, *A.domain_shape, requires_grad=True)
    y = torch.randn(2, *A.range_shape)
    torch.sum(A(x) * y).backward()
    assert torch.allclose(x.grad, A.adjoint(y), rtol=1e-4, atol=1e-5)
    # and the adjoint is differentiable too: d<x, A^T y>/dy = A x
    y.requires_grad_()
    torch.sum(A.adjoint(y) * x.detach()).backward()
    assert torch.allclose(y.grad, A(x.detach()), rtol=1e-4, atol=1e-5)


def test_compositions_sums_and_scalings_keep_the_adjoint_identity():
    D = Downsample((32, 32), 2)
    R = Radon((16, 16), 10)
    for op in (R @ D, D.T @ D + 0.5 * Identity((32, 32)), D @ D.T - 2 * Identity((16, 16)), -(R @ D), (R @ D).T):
        assert op.adjoint_test() < 1e-4
    with pytest.raises(ValueError, match="cannot compose"):
        D @ R
    with pytest.raises(ValueError, match="cannot add"):
        D + R


def test_numpy_in_numpy_out_and_batches():
    A = Downsample((32, 32), 4)
    x = np.random.rand(2, 3, 32, 32).astype(np.float32)
    y = A(x)
    assert isinstance(y, np.ndarray) and y.shape == (2, 3, 8, 8)
    assert np.allclose(y[1, 2], A(x[1, 2]), atol=1e-6)
    R = Radon((32, 32), 8)
    assert R(torch.rand(4, 32, 32)).shape == (4, 8, R.detectors)


def test_downsample_preserves_constants_and_box_is_block_mean():
    x = np.random.rand(16, 16).astype(np.float32)
    for kernel in ("gaussian", "box", "bicubic"):
        assert np.allclose(Downsample((16, 16), 4, kernel=kernel)(np.full((16, 16), 0.3, np.float32)), 0.3, atol=1e-6)
    block_mean = x.reshape(4, 4, 4, 4).mean(axis=(1, 3))
    assert np.allclose(Downsample((16, 16), 4, kernel="box")(x), block_mean, atol=1e-6)


def test_norm_by_power_iteration():
    A = Downsample((32, 32), 2, kernel="box", boundary="circular")
    assert A.norm() == pytest.approx(0.5, rel=1e-3)  # box averaging of 4 pixels: ||A|| = 1/2
    R = Radon((32, 32), 16)
    assert R.norm() > 0


def test_lstsq_inverts_a_well_posed_problem():
    A = Downsample((16, 16), 1, kernel="gaussian", sigma=0.6, boundary="circular")
    x = np.random.rand(16, 16).astype(np.float32)
    estimate = A.lstsq(A(x), iters=300, tol=1e-7)
    assert np.abs(estimate - x).max() < 1e-2


def test_radon_default_detectors_and_views():
    R = Radon((64, 64), 30)
    assert R.range_shape == (30, int(np.ceil(np.sqrt(2) * 64)) + 1)
    assert R.projector == ("cuda" if cuda_available() else "linear")
    assert np.allclose(R.angles[[0, -1]], [0, np.pi * 29 / 30])


def test_fbp_filters_and_iterative_baselines_reconstruct_a_phantom():
    x = data.shepp_logan(64)
    R = Radon((64, 64), 180)
    sinogram = R(x)
    for name in ("ram-lak", "shepp-logan", "hann"):
        assert psnr(x, fbp(R, sinogram, name)) > 20
    assert psnr(x, sirt(R, sinogram, 100, nonnegative=True)) > 20
    assert psnr(x, cgls(R, sinogram, 20)) > 22


def test_fan_beam_rebinning_matches_parallel_projection_and_fbp_works():
    x = data.shepp_logan(64)
    fan = Radon((64, 64), 360, geometry="fan")
    parallel = parallel_equivalent(fan)
    rebinned = rebin_fan_to_parallel(fan, parallel, fan(x))
    reference = parallel(x)
    assert np.linalg.norm(rebinned - reference) < 0.03 * np.linalg.norm(reference)
    assert psnr(x, fbp(fan, fan(x))) > 22


def test_sparse_view_fbp_is_worse_than_dense():
    x = data.shepp_logan(64)
    dense, sparse = Radon((64, 64), 180), sparse_view((64, 64), 15)
    assert psnr(x, fbp(dense, dense(x))) > psnr(x, fbp(sparse, sparse(x))) + 3


def test_noise_is_seeded_and_scaled():
    y = np.linspace(0, 2, 10000, dtype=np.float32)
    a, b = gaussian_noise(y, 0.01, seed=3), gaussian_noise(y, 0.01, seed=3)
    assert np.array_equal(a, b)
    assert np.std(a - y) == pytest.approx(0.02, rel=0.05)
    counts = poisson_noise(np.full(20000, 0.5), photons=1e4, seed=1)
    assert np.mean(counts) == pytest.approx(0.5, abs=0.01)
    # variance of -log(n / I0) is about 1 / (I0 exp(-p))
    assert np.var(counts) == pytest.approx(1 / (1e4 * np.exp(-0.5)), rel=0.1)


@pytest.mark.parametrize("make", [data.shepp_logan, data.random_ellipses, data.random_polygons,
                                  lambda n: data.load_sample("camera", n), lambda n: data.load_sample("coins", n)])
def test_phantoms_and_samples_are_float32_in_unit_range(make):
    image = make(48)
    assert image.shape == (48, 48) and image.dtype == np.float32
    assert image.min() == 0 and image.max() == 1
    assert not np.array_equal(data.random_ellipses(48, seed=1), data.random_ellipses(48, seed=2))


@pytest.mark.parametrize("build, words", [
    (lambda: Downsample((30, 32), 4), "multiple of the factor"),
    (lambda: Downsample((32, 32), 0), "factor must be"),
    (lambda: Downsample((32, 32), 2, kernel="lanczos"), "unknown blur kernel"),
    (lambda: Downsample((32, 32), 2, sigma=-1.0), "sigma"),
    (lambda: Downsample((32, 32), 2, kernel=np.full((3, 3), np.nan)), "finite"),
    (lambda: Radon((32, 32), 0), "views"),
    (lambda: Radon((32, 32), [0.0, np.inf]), "finite"),
    (lambda: Radon((32, 32), 10, geometry="cone"), "geometry"),
    (lambda: Radon((32, 32), 10, geometry="fan", source_distance=np.nan), "finite"),
    (lambda: Radon((32, 32), 10, geometry="fan", source_distance=5.0), "outside the image"),
    (lambda: Radon((32, 32), 10, detectors=0), "detectors"),
    (lambda: Radon((32, 32), 10, projector="line_fanflat"), "does not fit"),
    (lambda: limited_angle((32, 32), 10, -30), "arc"),
    (lambda: poisson_noise(np.ones(3), 0), "photon"),
    (lambda: gaussian_noise(np.ones(3), -0.1), "noise level"),
    (lambda: Downsample((32, 32), 2)(torch.rand(32, 30)), "expects input of shape"),
    (lambda: Radon((32, 32), 4).adjoint(torch.rand(4, 3)), "adjoint of"),
    (lambda: fbp(Radon((32, 32), 4), np.full((4, 47), np.nan)), "NaN"),
    (lambda: fbp(Radon((32, 32), 4), np.zeros((4, 47)), "cosine"), "unknown FBP filter"),
])
def test_bad_arguments_raise_one_sentence(build, words):
    with pytest.raises((ValueError, TypeError), match=words):
        build()


@pytest.mark.skipif(cuda_available(), reason="this machine has CUDA")
def test_cuda_projector_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA"):
        Radon((32, 32), 10, projector="cuda")


@pytest.mark.skipif(not (torch.cuda.is_available() and cuda_available()), reason="needs CUDA and ASTRA with CUDA")
def test_cuda_radon_adjoint_and_devices():
    R = Radon((64, 64), 30, projector="cuda")
    assert R.adjoint_test() < 1e-3
    x = torch.rand(2, 64, 64, device="cuda")
    assert R(x).device.type == "cuda"
