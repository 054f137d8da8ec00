"""Regularisers: adjoint pairs, exact proxes (checked by optimality against perturbations and a second
algorithm), orthogonality of the wavelet transform, gradients of the smoothed forms."""

import pytest
import torch

from invscat.regularizers import Tikhonov, TotalVariation, WaveletL1, divergence, gradient


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_divergence_is_minus_adjoint_of_gradient():
    x, p = rand(3, 17, 12), rand(3, 2, 17, 12, seed=1)
    lhs = torch.sum(gradient(x) * p)
    rhs = -torch.sum(x * divergence(p))
    assert abs(lhs - rhs) < 1e-10 * abs(lhs)


@pytest.mark.parametrize("isotropic", [True, False])
def test_tv_prox_beats_perturbations(isotropic):
    tv = TotalVariation(isotropic=isotropic)
    x = rand(24, 24)
    tau = 0.3
    z = tv.prox(x, tau, iters=300)
    energy = lambda v: 0.5 * torch.sum((v - x) ** 2) + tau * tv.value(v)
    best = energy(z)
    for k in range(20):
        assert energy(z + 1e-2 * rand(24, 24, seed=k + 1)) >= best - 1e-9
    assert tv.value(z) < tv.value(x)


def test_tv_values():
    ramp = torch.arange(5.0)[None, :].repeat(4, 1)  # horizontal slope 1 on 4 rows: 4 x 4 unit jumps
    assert TotalVariation().value(ramp) == pytest.approx(16.0)
    diagonal = ramp + torch.arange(4.0)[:, None]
    # where both differences exist (3 x 4 pixels), |(1, 1)| = sqrt 2 isotropic, 2 anisotropic
    assert TotalVariation(isotropic=True).value(diagonal) < TotalVariation(isotropic=False).value(diagonal)


def test_smooth_tv_has_finite_gradient_at_constant_images():
    x = torch.ones(8, 8, dtype=torch.float64, requires_grad=True)
    TotalVariation().smooth_value(x).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().max() < 1e-12


def test_wavelet_transform_is_orthogonal():
    W = WaveletL1("db4", levels=3, shifts=1)
    x = rand(2, 40, 56)
    coefficients = W.analysis(x)
    energy = coefficients[0].pow(2).sum() + sum(d.pow(2).sum() for level in coefficients[1:] for d in level)
    assert energy.item() == pytest.approx(x.pow(2).sum().item(), rel=1e-6)
    assert torch.allclose(W.synthesis(coefficients, x.shape), x, atol=1e-6)


def test_wavelet_prox_is_soft_thresholding_and_optimal():
    W = WaveletL1("db2", levels=2, shifts=1)
    x, tau = rand(32, 32), 0.5
    z = W.prox(x, tau)
    energy = lambda v: 0.5 * torch.sum((v - x) ** 2) + tau * W.value(v)
    for k in range(20):
        assert energy(z + 1e-2 * rand(32, 32, seed=k + 1)) >= energy(z) - 1e-9
    details = [d for level in W.analysis(z)[1:] for d in level]
    assert sum((d.abs() < 1e-9).sum().item() for d in details) > 100  # thresholding zeroes small coefficients


def test_wavelet_rejects_bad_parameters():
    with pytest.raises(ValueError, match="orthogonal"):
        WaveletL1("bior2.2")
    with pytest.raises(ValueError, match="unknown wavelet"):
        WaveletL1("nonsense")
    with pytest.raises(ValueError, match="levels"):
        WaveletL1(levels=0)


@pytest.mark.parametrize("operator", ["identity", "gradient"])
def test_tikhonov_normal_is_the_gradient_of_its_value(operator):
    R = Tikhonov(operator)
    x = rand(10, 9).requires_grad_(True)
    R.value(x).backward()
    assert torch.allclose(x.grad, R.normal(x.detach()), atol=1e-12)
    z = R.prox(x.detach(), 0.7)
    assert torch.allclose(z + 0.7 * R.normal(z), x.detach(), atol=1e-5)  # optimality of the prox


@pytest.mark.parametrize("shape", [(127, 93), (93, 127), (65, 64), (63, 63), (2, 31, 33)])
def test_wavelet_l1_on_odd_sizes(shape):
    W = WaveletL1("db4", levels=3)
    x = torch.rand(*shape, dtype=torch.float64)
    assert torch.allclose(W.prox(x, 0.0), x, atol=1e-12)
    assert W.prox(x, 0.1).shape == x.shape and W.value(x) > 0


def test_l1_superresolution_by_3_on_an_odd_image():
    from invscat import data
    from invscat.tasks import SuperResolution

    task = SuperResolution(3)
    _, low = task.simulate(data.shepp_logan(63))  # 21x21: odd at every scale
    assert task.reconstruct(low, "l1", iters=5).image.shape == (63, 63)
