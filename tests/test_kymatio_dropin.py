"""invscat.Scattering2D as a drop-in for Kymatio 0.3's torch Scattering2D: what Kymatio's own torch 2D suite
checks (golden vector, batch shapes, sizes plain and pre-padded, J=5, bad backends, too large J, gradcheck), with
Kymatio as the reference where it is one, plus its interface (list output, pre_pad, integer-like arguments,
state dicts) and second-order gradients."""

from collections import namedtuple

import numpy as np
import pytest
import torch

from conftest import cuda, kymatio_scattering
from invscat import Scattering2D
from invscat.scattering.transform import ShapeError


def kymatio_module(*args, **kwargs):
    frontend = pytest.importorskip("kymatio.scattering2d.frontend.torch_frontend")
    return frontend.ScatteringTorch2D(*args, **kwargs)


def test_golden_vector_with_kymatio_arguments(kymatio_reference):
    # Kymatio's test passes J and pre_pad as 0-d numpy arrays straight from its .npz
    x = torch.from_numpy(kymatio_reference["x"])
    S = Scattering2D(kymatio_reference["J"], shape=x.shape[-2:], pre_pad=np.array(False), backend="torch")
    Sx = torch.from_numpy(kymatio_reference["Sx"])
    assert torch.allclose(S(x), Sx)
    first = Scattering2D(kymatio_reference["J"], shape=x.shape[-2:], max_order=1)(x)
    assert torch.allclose(first, Sx[..., :first.shape[-3], :, :])


@pytest.mark.parametrize("value", [np.int64(3), np.array(3), np.int32(3)])
def test_integer_like_arguments(value):
    S = Scattering2D(value, (32, 32), L=np.array(4), max_order=np.int64(2))
    assert (S.J, S.L, S.max_order) == (3, 4, 2) and type(S.J) is int


@pytest.mark.parametrize("batch", [(), (1,), (2,), (2, 2), (2, 2, 2)])
def test_batch_shapes(batch):
    S = Scattering2D(3, (32, 32), 8)
    out = S(torch.zeros(*batch, 32, 32))
    assert out.shape == (*batch, S.n_channels, 4, 4)


@pytest.mark.parametrize("N", [31, 32, 33])
@pytest.mark.parametrize("J", [1, 2, 4])
def test_sizes_plain_and_pre_padded_agree_with_kymatio(N, J):
    x = torch.rand(2, N, N)
    plain, theirs = Scattering2D(J, (N, N)), kymatio_module(J, (N, N))
    assert torch.allclose(plain(x), theirs(x), atol=1e-5)

    padded = Scattering2D(J, (N, N), pre_pad=True)
    theirs = kymatio_module(J, (N, N), pre_pad=True)
    assert padded.padded_shape == (theirs._M_padded, theirs._N_padded) == (padded._M_padded, padded._N_padded)
    assert padded.input_shape == padded.padded_shape
    xp = torch.rand(2, *padded.padded_shape)
    ours = padded(xp)
    assert ours.shape == plain(x).shape
    assert torch.allclose(ours, theirs(xp), atol=1e-5)


@pytest.mark.parametrize("shape", [(32, 32), (37, 32)])
def test_largest_J_gives_one_coefficient(shape):
    assert Scattering2D(5, shape)(torch.zeros(3, 3, *shape)).shape[-2:] == (1, 1)


def test_list_output_matches_kymatio():
    x = torch.rand(2, 3, 32, 32)
    ours = Scattering2D(3, (32, 32), L=4, out_type="list")(x)
    theirs = kymatio_module(3, (32, 32), L=4, out_type="list")(x)
    assert len(ours) == len(theirs) == 1 + 4 * 3 + 16 * 3
    for a, b in zip(ours, theirs):
        assert (a["j"], a["theta"], a["n"]) == (b["j"], b["theta"], b["n"])
        assert a["coef"].shape == b["coef"].shape == (2, 3, 4, 4)
        assert torch.allclose(a["coef"], b["coef"], atol=1e-5)


def test_scattering_method_is_the_call():
    S = Scattering2D(2, (16, 16))
    x = torch.rand(16, 16)
    assert torch.equal(S.scattering(x), S(x))


def test_backends():
    Scattering2D(2, (16, 16), backend="torch")
    backend = pytest.importorskip("kymatio.scattering2d.backend.torch_backend").backend
    Scattering2D(2, (16, 16), backend=backend)
    fake = namedtuple("backend", ["name"])("fake")
    for other in (fake, "numpy", "torch_skcuda"):
        with pytest.raises(ImportError, match="not supported"):
            Scattering2D(2, (16, 16), backend=other)


@pytest.mark.parametrize("make, x, words", [
    (lambda: Scattering2D(3, (32, 32)), torch.zeros(()), "at least two"),
    (lambda: Scattering2D(3, (32, 32)), torch.zeros(32), "at least two"),
    (lambda: Scattering2D(3, (32, 32)), torch.randn(31, 31), "Tensor must be of spatial size"),
    (lambda: Scattering2D(3, (32, 32), pre_pad=True), torch.randn(31, 31), "Padded tensor must be of spatial size"),
    (lambda: Scattering2D(3, (32, 32), pre_pad=True), torch.randn(32, 32), r"Padded tensor .* \(48, 48\)"),
])
def test_shape_errors_are_value_and_runtime_errors(make, x, words):
    S = make()
    for kind in (ValueError, RuntimeError):
        with pytest.raises(kind, match=words):
            S(x)


def test_too_large_J_is_a_value_and_runtime_error():
    for kind in (ValueError, RuntimeError):
        with pytest.raises(kind, match="smallest dimension"):
            Scattering2D(10, shape=(10, 10))
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, RuntimeError)


def test_input_errors():
    S = Scattering2D(2, (8, 8))
    with pytest.raises(TypeError, match="input should be"):
        S(None)
    with pytest.raises(ValueError, match="out_type"):
        Scattering2D(2, (8, 8), out_type="dict")
    with pytest.raises(ValueError, match="empty"):
        S(torch.zeros(0, 8, 8))


def test_more_permissive_than_kymatio():
    S = Scattering2D(2, (8, 8))
    x = torch.randn(16, 16)
    assert torch.allclose(S(x[::2, ::2]), S(x[::2, ::2].contiguous()))  # non-contiguous input
    assert S(x[::2, ::2].double()).dtype == torch.float64  # float64 input on a float32 module


def test_kymatio_state_dict_loads_strictly():
    theirs = torch.nn.Sequential(kymatio_module(2, (16, 16), L=4), torch.nn.Flatten(), torch.nn.Linear(25 * 16, 3))
    ours = torch.nn.Sequential(Scattering2D(2, (16, 16), L=4), torch.nn.Flatten(), torch.nn.Linear(25 * 16, 3))
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.rand(5, 16, 16)
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)
    # filters of another transform are refused
    wrong = torch.nn.Sequential(Scattering2D(2, (16, 16), L=2), torch.nn.Flatten(), torch.nn.Linear(25 * 16, 3))
    with pytest.raises(RuntimeError, match="Kymatio filters"):
        wrong.load_state_dict(theirs.state_dict(), strict=True)


def test_gradcheck_as_kymatio():
    S = Scattering2D(2, shape=(8, 8)).double()
    x = torch.rand(2, 1, 8, 8).double().requires_grad_()
    assert torch.autograd.gradcheck(S, x, nondet_tol=1e-5, fast_mode=True)


@pytest.mark.parametrize("padding", ["reflect", "periodic"])
@pytest.mark.parametrize("J", [1, 2, 3])
def test_gradgradcheck(J, padding):
    S = Scattering2D(J, (8, 8), L=2, padding=padding).double()
    x = torch.rand(1, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: S(t), (x,), eps=1e-6, atol=1e-5, fast_mode=True)


def _hessian_vector_check(S, x, v, loss):
    def gradient(point, create_graph=False):
        point = point.clone().requires_grad_()
        return torch.autograd.grad(loss(S(point)), point, create_graph=create_graph)[0], point

    g, point = gradient(x, create_graph=True)
    hvp = torch.autograd.grad(g, point, v)[0]
    eps = 1e-5
    fd = (gradient(x + eps * v)[0] - gradient(x - eps * v)[0]) / (2 * eps)
    return ((hvp - fd).norm() / fd.norm()).item()


@pytest.mark.parametrize("padding", ["reflect", "periodic"])
@pytest.mark.parametrize("loss", [lambda s: (s ** 2).sum(), lambda s: s.sum(), lambda s: (s[..., 1:, :, :] ** 3).mean()])
def test_hessian_vector_products_match_finite_differences(padding, loss):
    S = Scattering2D(2, (16, 16), L=4, padding=padding).double()
    x = torch.rand(2, 16, 16, dtype=torch.float64)
    v = torch.randn(2, 16, 16, dtype=torch.float64)
    assert _hessian_vector_check(S, x, v, loss) < 1e-4


def test_hessian_vector_product_agrees_with_kymatio():
    x = torch.rand(24, 24, dtype=torch.float64)
    v = torch.randn(24, 24, dtype=torch.float64)

    def hvp(S):
        point = x.clone().requires_grad_()
        g = torch.autograd.grad((S(point) ** 2).sum(), point, create_graph=True)[0]
        return torch.autograd.grad(g, point, v)[0]

    ours, theirs = hvp(Scattering2D(2, (24, 24)).double()), hvp(kymatio_scattering(2, (24, 24)).double())
    assert (ours - theirs).norm() < 1e-5 * theirs.norm()  # Kymatio builds its filters in float32


@cuda
@pytest.mark.parametrize("padding", ["reflect", "periodic"])
def test_hessian_vector_products_on_cuda(padding):
    S = Scattering2D(2, (16, 16), L=4, padding=padding).double().cuda()
    x = torch.rand(2, 16, 16, dtype=torch.float64, device="cuda")
    v = torch.randn(2, 16, 16, dtype=torch.float64, device="cuda")
    assert _hessian_vector_check(S, x, v, lambda s: (s ** 2).sum()) < 1e-4
