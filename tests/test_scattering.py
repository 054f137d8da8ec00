"""Properties of invscat.Scattering2D: Kymatio agreement, shapes, gradients, devices and argument checks."""

import numpy as np
import pytest
import torch

from conftest import cuda, kymatio_scattering
from invscat import Scattering2D
from invscat.scattering import transform


def test_reproduces_kymatio_golden_vector(kymatio_reference):
    x = torch.from_numpy(kymatio_reference["x"])
    S = Scattering2D(J=int(kymatio_reference["J"]), shape=x.shape[-2:], L=8)
    out = S(x).numpy()
    assert out.shape == kymatio_reference["Sx"].shape
    assert np.abs(out - kymatio_reference["Sx"]).max() < 1e-5


def test_golden_vector_in_float64(kymatio_reference):
    x = torch.from_numpy(kymatio_reference["x"]).double()
    S = Scattering2D(J=4, shape=x.shape[-2:]).double()
    out = S(x)
    assert out.dtype == torch.float64
    assert np.abs(out.numpy() - kymatio_reference["Sx"]).max() < 1e-6


@pytest.mark.parametrize("J, shape, L, order", [(2, (40, 56), 6, 2), (3, (64, 64), 8, 1), (1, (17, 23), 4, 2)])
def test_agrees_with_kymatio_on_other_shapes(J, shape, L, order):
    x = torch.rand(2, *shape)
    ours = Scattering2D(J, shape, L=L, max_order=order)(x)
    theirs = kymatio_scattering(J, shape, L=L, max_order=order)(x)
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max() < 1e-5


def test_gradient_agrees_with_kymatio():
    x = torch.rand(2, 48, 48, requires_grad=True)
    weights = torch.randn(2, 1 + 8 * 3 + 64 * 3, 6, 6)
    (Scattering2D(3, (48, 48))(x) * weights).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (kymatio_scattering(3, (48, 48))(x) * weights).sum().backward()
    assert (ours - x.grad).abs().max() < 1e-4 * x.grad.abs().max()


@pytest.mark.parametrize("J, L, order", [(2, 8, 2), (3, 4, 2), (3, 8, 1)])
def test_output_shape_and_channel_count(J, L, order):
    S = Scattering2D(J, (64, 32), L=L, max_order=order)
    out = S(torch.rand(3, 2, 64, 32))
    C = 1 + L * J + (L * L * J * (J - 1) // 2 if order == 2 else 0)
    assert S.n_channels == C
    assert out.shape == (3, 2, C, 64 // 2**J, 32 // 2**J)


def test_gradcheck_float64():
    S = Scattering2D(2, (8, 8), L=4).double()
    x = torch.rand(1, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: S(t), (x,), eps=1e-6, atol=1e-5)


def test_gradcheck_with_many_alias_blocks():
    # J=4 on a 48x48 padded grid: the scale-3 wavelet at full resolution has 64 alias blocks, the batched path.
    S = Scattering2D(4, (16, 16), L=2).double()
    x = torch.rand(1, 16, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: S(t), (x,), eps=1e-6, atol=1e-5)


# Chunk budgets for Scattering2D(2, (16, 16), L=4): its order-2 layers take 18432 bytes per channel in float64,
# so this budget makes chunks of 5 channels and a shorter last one.
FIVE_CHANNELS = 5 * 18432


@pytest.mark.parametrize("budget", [1, FIVE_CHANNELS])
def test_chunked_layers_agree_with_one_chunk(monkeypatch, budget):
    # The wavelet layers work through their channels a few at a time on CPU; one channel per chunk, or chunks
    # that leave a shorter last one, give the coefficients and gradients of a single chunk.
    S = Scattering2D(2, (16, 16), L=4).double()
    x = torch.rand(3, 16, 16, dtype=torch.float64)
    weights = torch.rand(3, S.n_channels, 4, 4, dtype=torch.float64)

    def run():
        xg = x.clone().requires_grad_()
        out = S(xg)
        (out * weights).sum().backward()
        return out.detach(), xg.grad

    monkeypatch.setattr(transform, "_CHUNK_BYTES", 2**40)
    whole, whole_grad = run()
    monkeypatch.setattr(transform, "_CHUNK_BYTES", budget)
    chunked, chunked_grad = run()
    assert torch.allclose(chunked, whole, atol=1e-13) and torch.allclose(chunked_grad, whole_grad, atol=1e-13)


def test_gradcheck_across_chunks(monkeypatch):
    monkeypatch.setattr(transform, "_CHUNK_BYTES", FIVE_CHANNELS)
    S = Scattering2D(2, (16, 16), L=4).double()
    x = torch.rand(2, 16, 16, dtype=torch.float64, requires_grad=True)  # order 2: 8 channels, chunks of 5 and 3
    assert torch.autograd.gradcheck(lambda t: S(t), (x,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_gradient_finite_at_zero():
    S = Scattering2D(2, (16, 16))
    x = torch.zeros(16, 16, requires_grad=True)
    S(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_translation_invariance_with_periodic_padding():
    # A circular shift by a multiple of 2^J shifts the coefficients exactly (no boundary, no aliasing).
    S = Scattering2D(3, (64, 64), padding="periodic")
    x = torch.rand(64, 64, dtype=torch.float64)
    S = S.double()
    Sx = S(x)
    assert torch.allclose(S(torch.roll(x, (8, 16), (0, 1))), torch.roll(Sx, (1, 2), (-2, -1)), atol=1e-10)


def test_order0_is_local_average_and_scales_linearly():
    S = Scattering2D(2, (32, 32), padding="periodic").double()
    x = torch.rand(32, 32, dtype=torch.float64)
    # phi has unit mass (up to Kymatio's 3.1415 normalisation), so a constant image maps to about itself.
    assert torch.allclose(S(torch.full((32, 32), 0.7, dtype=torch.float64))[0], torch.tensor(0.7, dtype=torch.float64),
                          rtol=1e-4)
    # S is positively homogeneous: S(a x) = a S(x) for a > 0.
    assert torch.allclose(S(2.5 * x), 2.5 * S(x), rtol=1e-10)


def test_wavelet_moduli_match_first_order_paths():
    S = Scattering2D(3, (64, 48))
    x = torch.rand(2, 64, 48)
    moduli = S.wavelet_moduli(x)
    assert [m.shape for m in moduli] == [(2, 8, 64, 48), (2, 8, 32, 24), (2, 8, 16, 12)]
    assert (moduli[0] >= 0).all()
    # the modulus of a band-pass filtered constant image is ~0 away from the border
    flat = S.wavelet_moduli(torch.ones(64, 48))
    assert flat[0][:, 8:-8, 8:-8].abs().max() < 1e-4


def test_periodic_padding_keeps_all_coefficients():
    S = Scattering2D(2, (32, 32), padding="periodic")
    assert S(torch.rand(32, 32)).shape == (81, 8, 8)


@pytest.mark.parametrize("shape, J", [((128, 128), 2), ((60, 150), 2), ((120, 64), 3)])
def test_fast_padding_matches_reflect_away_from_the_border(shape, J):
    # Kymatio's grids here have a prime factor 17 (136; 68; 136) or are fine already (156, 80); 'fast' widens them
    # to a grid with no prime factor above 13, keeping the output's shape and sampling.
    reflect = Scattering2D(J, shape).double()
    fast = Scattering2D(J, shape, padding="fast").double()
    assert all(max(transform._prime_factors(n)) <= 13 for n in fast.padded_shape)
    assert all(f >= r and (f - r) % 2 ** (J + 1) == 0 for f, r in zip(fast.padded_shape, reflect.padded_shape))
    x = torch.rand(2, *shape, dtype=torch.float64)
    a, b = reflect(x), fast(x)
    assert a.shape == b.shape
    assert ((a - b)[..., 2:-2, 2:-2].abs().max() / a.abs().max()) < 2e-4
    assert ((a - b).abs().max() / a.abs().max()) < 0.05


def test_fast_padding_gradient():
    S = Scattering2D(1, (30, 12), L=4, padding="fast").double()  # 34 = 2 x 17 widened to 42
    assert S.padded_shape == (42, 16)
    x = torch.rand(30, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: S(v).pow(2).sum(), (x,))


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(J=0, shape=(32, 32)), ValueError, "J must be"),
    (dict(J=2, shape=(32, 32), padding="fast", pre_pad=True), ValueError, "pre_pad"),
    (dict(J=2, shape=(32, 32), L=0), ValueError, "L must be"),
    (dict(J=6, shape=(32, 32)), ValueError, "too small"),
    (dict(J=2, shape=(32, 32), max_order=3), ValueError, "max_order"),
    (dict(J=2, shape=(34, 32), padding="periodic"), ValueError, "multiples"),
    (dict(J=2, shape=(32, 32), padding="zero"), ValueError, "padding"),
])
def test_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        Scattering2D(**kwargs)


@pytest.mark.parametrize("x, error, words", [
    (torch.rand(32), ValueError, "dimension"),
    (torch.rand(2, 32, 30), ValueError, "must be of spatial size"),
    (torch.rand(32, 32, dtype=torch.complex64), TypeError, "real floating-point"),
    (torch.ones(32, 32, dtype=torch.int64), TypeError, "real floating-point"),
    (torch.rand(32, 32).half(), TypeError, "float32 or float64"),
    (np.ones((32, 32), dtype=np.float32), TypeError, "torch.Tensor"),
])
def test_bad_inputs(x, error, words):
    with pytest.raises(error, match=words):
        Scattering2D(2, (32, 32))(x)


def test_filters_are_buffers_and_follow_dtype():
    S = Scattering2D(2, (32, 32))
    names = dict(S.named_buffers())
    assert any(n.startswith("psi_") for n in names) and any(n.startswith("lowpass_rows") for n in names)
    x = torch.rand(2, 32, 32)
    single = S(x)  # prepares the float32 filters of each scale
    assert S(x.double()).dtype == torch.float64  # float64 input: filters converted, not the float32 ones reused
    assert all(b.dtype == torch.float64 for b in S.double().buffers() if b.is_floating_point())
    double = S(x.double())
    assert double.dtype == torch.float64 and torch.allclose(double.float(), single, atol=1e-5)


def test_device_path_runs_on_the_meta_device():
    # Off the CPU a layer takes all channels as one chunk and always masks the modulus gradient; torch's meta
    # device runs that path for shapes only, so a tensor left on the CPU shows up here without a GPU.
    S = Scattering2D(3, (32, 32)).to("meta")
    x = torch.empty(2, 32, 32, device="meta", requires_grad=True)
    out = S(x)
    out.sum().backward()
    assert out.shape == (2, 217, 4, 4) and out.device.type == "meta" and x.grad.shape == (2, 32, 32)


@cuda
def test_cuda_matches_cpu(kymatio_reference):
    x = torch.from_numpy(kymatio_reference["x"])
    S = Scattering2D(4, (32, 32))
    cpu = S(x)
    gpu = S.to("cuda")(x.cuda())
    assert gpu.is_cuda
    assert (gpu.cpu() - cpu).abs().max() < 1e-5
    xg = x.cuda().requires_grad_()
    S(xg).sum().backward()
    assert torch.isfinite(xg.grad).all()
