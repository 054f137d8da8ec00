"""The 2D wavelet scattering transform as a torch module, Kymatio-compatible coefficient for coefficient."""

from __future__ import annotations

import operator
import re

import numpy as np
import torch
from torch import nn

from invscat.scattering.filters import filter_bank

PADDINGS = ("reflect", "periodic", "fast")
OUT_TYPES = ("array", "list")


class ShapeError(ValueError, RuntimeError):
    """A size that does not fit the transform: a ValueError, and a RuntimeError where Kymatio raises one."""


def _padded_size(size: int, J: int) -> int:
    # Kymatio's compute_padding: at least 2^J of reflected border, rounded to a multiple of 2^J.
    return ((size + 2**J) // 2**J + 1) * 2**J


def _fast_padded_size(size: int, J: int) -> int:
    """Kymatio's padded size widened by 2^J on each side until it has no prime factor above 13: an FFT of a length
    with a factor 17 or 19 took 3-6x longer per point on the 2-core CPU (MKL) than one of 2^a 3^b ... 13^f.
    Widening both sides alike keeps the sampling grid, and so the coefficients away from the border."""
    padded = _padded_size(size, J)
    while max(_prime_factors(padded)) > 13:
        padded += 2 ** (J + 1)
    return padded


def _prime_factors(n: int) -> list[int]:
    factors, p = [1], 2
    while p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors + ([n] if n > 1 else [])


# Blocks where a wavelet's spectrum is below this fraction of its peak are skipped when aliasing (their
# contribution is far below float32 resolution).
_NEGLIGIBLE = 1e-10
# On CPU a wavelet layer works through its channels a few at a time, so that its intermediates stay in cache and
# its allocations stay small enough for the allocator to reuse. Forward+backward on the 2-core development
# machine was fastest with 12-32 MiB of spectra per chunk; all channels at once was 1.5x slower at 256x256 J=4
# batch 8, and below 8 MiB the growing number of small operations costs more than the cache saves.
_CHUNK_BYTES = 16 * 2**20
# With more than this many alias blocks (a large subsampling factor, small blocks), one batched product over all
# blocks beats looping over them (measured on CPU, forward+backward: 2.7x at 64x64 J=6 batch 1, periodic), and
# loses to the loop below that (1.4-3x at 4 or 8 blocks).
_LOOP_BLOCKS = 16


def _alias_blocks(psi: np.ndarray, k: int):
    """Split filter spectra (L, M, N) into their k x k aliased blocks and find the non-negligible ones.

    Returns the blocks any filter needs, divided by k^2, shape (nb, L, M/k, N/k), their (row, col)
    offsets, and for each filter the indices of the blocks where it is not negligible.
    """
    L, M, N = psi.shape
    Mk, Nk = M // k, N // k
    blocks = psi.reshape(L, k, Mk, k, Nk).transpose(1, 3, 0, 2, 4).reshape(k * k, L, Mk, Nk)
    peak = np.abs(blocks).max(axis=(2, 3))  # (k^2, L)
    significant = peak > _NEGLIGIBLE * peak.max(axis=0)
    kept = np.flatnonzero(significant.any(axis=1))
    offsets = tuple(((b // k) * Mk, (b % k) * Nk) for b in kept)
    per_filter = tuple(tuple(np.flatnonzero(significant[kept, l]).tolist()) for l in range(L))
    return blocks[kept] / k**2, offsets, per_filter


class _Scale:
    """What a wavelet layer needs of one scale j, for inputs at resolution res.

    ``blocks`` (nb, L, M/k, N/k, 2): the alias blocks of :func:`_alias_blocks` with each value twice, interleaved
    like the (real, imaginary) pairs of a complex tensor, so that products with spectra are contiguous, and
    divided by (M/k)(N/k), the normalisation of the inverse FFT after them (so that no FFT needs a scaling pass);
    ``offsets``, ``per_filter`` as returned there; ``rows``, ``cols``: the low-pass matrices at resolution j.
    """

    def __init__(self, blocks, offsets, per_filter, rows, cols):
        self.blocks, self.offsets, self.rows, self.cols = blocks, offsets, rows, cols
        self.batched = blocks.shape[0] > _LOOP_BLOCKS
        self.shape = tuple(blocks.shape[1:4])  # (L, Mk, Nk)
        # for each filter, the index and the filter values of each of its blocks
        self.terms = [[(i, blocks[i, l]) for i in kept] for l, kept in enumerate(per_filter)]
        self._per_filter = per_filter

    def filter_differentiable(self, spectrum: torch.Tensor) -> torch.Tensor:
        r""":math:`\sum_b x_b \hat\psi_{l,b}` for complex spectra (C, M, N) -> (C, L, Mk, Nk), in out-of-place torch
        operations that autograd can differentiate any number of times (the same blocks as :meth:`filter`)."""
        L, Mk, Nk = self.shape
        mask = torch.zeros(self.blocks.shape[:2], dtype=torch.bool)
        for l, kept in enumerate(self._per_filter):
            mask[list(kept), l] = True
        dense = self.blocks[..., 0] * mask.to(self.blocks.device)[..., None, None]
        out = 0
        for b, (r, c) in enumerate(self.offsets):
            out = out + spectrum[:, None, r:r + Mk, c:c + Nk] * dense[b]
        return out

    def _views(self, x: torch.Tensor) -> list:
        """The kept blocks of spectra x (C, M, N, 2), as views."""
        Mk, Nk = self.shape[1:]
        return [x[:, r:r + Mk, c:c + Nk] for r, c in self.offsets]

    def _flat_blocks(self, M: int, N: int):
        """Positions of the kept blocks among all blocks of an M x N grid, row-major, and the blocks (nb, L, P)."""
        nb, L, Mk, Nk, _ = self.blocks.shape
        index = [(r // Mk) * (N // Nk) + c // Nk for r, c in self.offsets]
        return index, self.blocks[..., 0].reshape(nb, L, Mk * Nk)

    def filter(self, x: torch.Tensor, out: torch.Tensor) -> None:
        r"""``out`` (C, L, Mk, Nk, 2) <- :math:`\sum_b x_b \hat\psi_{l,b}` for spectra ``x`` (C, M, N, 2).

        Both are real views of complex tensors.
        """
        L, Mk, Nk = self.shape
        C, M, N, _ = x.shape
        if self.batched:
            # many small blocks: one batched product over all of them, y[c, l, p] = sum_b x[c, b, p] psi[b, l, p]
            index, blocks = self._flat_blocks(M, N)
            xb = x.reshape(C, M // Mk, Mk, N // Nk, Nk, 2).permute(0, 5, 1, 3, 2, 4).reshape(2 * C, -1, Mk * Nk)
            y = torch.einsum("cbp,blp->clp", xb[:, index], blocks)
            out.copy_(y.reshape(C, 2, L, Mk, Nk).permute(0, 2, 3, 4, 1))
            return
        views = self._views(x)
        for l, terms in enumerate(self.terms):
            acc = out[:, l]
            for n, (i, psi) in enumerate(terms):
                torch.mul(views[i], psi, out=acc) if n == 0 else acc.addcmul_(views[i], psi)

    def filter_adjoint(self, g: torch.Tensor, into: torch.Tensor) -> None:
        """Add the adjoint of :meth:`filter` applied to ``g`` (C, L, Mk, Nk, 2) to ``into`` (C, M, N, 2)."""
        L, Mk, Nk = self.shape
        C, M, N, _ = into.shape
        if self.batched:
            index, blocks = self._flat_blocks(M, N)
            gb = torch.einsum("clp,blp->cbp", g.permute(0, 4, 1, 2, 3).reshape(2 * C, L, Mk * Nk), blocks)
            gb = gb.reshape(C, 2, -1, Mk, Nk).permute(0, 2, 3, 4, 1)
            for n, (r, c) in enumerate(self.offsets):
                into[:, r:r + Mk, c:c + Nk] += gb[:, n]
            return
        views = self._views(into)
        for l, terms in enumerate(self.terms):
            for i, psi in terms:
                views[i].addcmul_(g[:, l], psi)


def _chunk(channels: int, bytes_per_channel: int, device: torch.device) -> int:
    """How many channels a wavelet layer processes at once (all of them on a GPU)."""
    if device.type != "cpu":
        return channels
    return max(1, min(channels, _CHUNK_BYTES // bytes_per_channel))


def _divide_by_modulus(g: torch.Tensor, modulus: torch.Tensor) -> torch.Tensor:
    """g / |z| in place, 0 where z = 0: with d|z| = Re(conj(z) dz) / |z|, the gradient of |z| is g z / |z| (a
    subgradient, 0, at z = 0)."""
    g.div_(modulus)
    # on CPU the mask costs more than the division, and it is only needed where some modulus is exactly 0
    if modulus.device.type != "cpu" or modulus.min() == 0:
        g.masked_fill_(modulus == 0, 0)
    return g


def _sandwich(rows: torch.Tensor, x: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``rows @ x @ cols.T`` for a batch of matrices x (..., M, N), as two plain matrix products.

    torch's batched matmul with one shared matrix loops over the batch on CPU; folding the batch into the
    rows of one product is several times faster.
    """
    *batch, M, N = x.shape
    y = (x.reshape(-1, N) @ cols.T).reshape(-1, M, cols.shape[0])
    y = y.transpose(1, 2).reshape(-1, M) @ rows.T
    return y.reshape(*batch, cols.shape[0], rows.shape[0]).transpose(-1, -2)


def _modulus(z: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    # not torch.abs or hypot: on CPU a product, a fused multiply-add and a root over the strided real and
    # imaginary parts run two to three times as fast
    parts = torch.view_as_real(z)
    real, imag = parts[..., 0], parts[..., 1]
    return torch.mul(real, real, out=out).addcmul_(imag, imag).sqrt_()


class _WaveletLayer(torch.autograd.Function):
    r"""One layer of the scattering network, for several scales at once.

    For real images ``u`` (C, M, N) at resolution ``res`` and each scale j of ``scales`` it returns the moduli
    :math:`U_j = |u \star \psi_{j,\theta}|` subsampled to resolution j, shape (C, L, M/2^{j-res}, N/2^{j-res}),
    then their averages :math:`S_j = U_j \star \phi_J` subsampled to resolution J. The filtering is a product
    with the wavelet's aliased spectrum blocks (subsampling in Fourier) and the average two matrix products.

    Channels are processed a few at a time through scratch buffers (see ``_CHUNK_BYTES``); only the complex
    filtered images :math:`u \star \psi` are kept for the backward pass, which runs the same chain adjointly:
    modulus, unnormalised inverse FFT (whose adjoint is the unnormalised FFT), alias blocks, FFT (whose adjoint
    is the unnormalised inverse FFT).
    """

    @staticmethod
    def forward(ctx, u, scales):
        C, M, N = u.shape
        cdtype = torch.complex128 if u.dtype == torch.float64 else torch.complex64
        shapes = [s.shape for s in scales]
        per_channel = 2 * u.element_size() * (M * N + sum(L * Mk * Nk for L, Mk, Nk in shapes))
        chunk = _chunk(C, per_channel, u.device)
        filtered = [torch.empty(chunk, *shape, dtype=cdtype, device=u.device) for shape in shapes]
        moduli = [u.new_empty(C, *shape) for shape in shapes]
        averages = [u.new_empty(C, L, s.rows.shape[0], s.cols.shape[0]) for s, (L, _, _) in zip(scales, shapes)]
        wavelet = [[] for _ in scales]  # u * psi, chunk by chunk, kept for the backward pass
        keep = ctx.needs_input_grad[0]
        for start in range(0, C, chunk):
            stop = min(C, start + chunk)
            n = stop - start
            spectrum = torch.view_as_real(torch.fft.fft2(u[start:stop]))
            for scale, f, z, U, S in zip(scales, filtered, wavelet, moduli, averages):
                scale.filter(spectrum, torch.view_as_real(f[:n]))
                filtered_image = torch.fft.ifft2(f[:n], norm="forward")  # unnormalised: the blocks carry 1/size
                _modulus(filtered_image, out=U[start:stop])
                S[start:stop] = _sandwich(scale.rows, U[start:stop], scale.cols)
                if keep:
                    z.append(filtered_image)
        ctx.scales, ctx.chunk, ctx.shape, ctx.wavelet = scales, chunk, (C, M, N), wavelet
        ctx.save_for_backward(u, *moduli)
        ctx.set_materialize_grads(False)
        return (*moduli, *averages)

    @staticmethod
    def backward(ctx, *grads):
        if not ctx.needs_input_grad[0]:
            return None, None
        u, *moduli = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a gradient that can be differentiated again
            return _differentiable_backward(u, ctx.scales, grads), None
        scales, chunk, (C, M, N) = ctx.scales, ctx.chunk, ctx.shape
        count = len(scales)
        wavelet = ctx.wavelet
        grad_moduli, grad_averages = grads[:count], grads[count:]
        grad_u = moduli[0].new_empty(C, M, N)
        grad_spectrum = torch.empty(chunk, M, N, dtype=wavelet[0][0].dtype, device=grad_u.device)
        for number, start in enumerate(range(0, C, chunk)):
            stop = min(C, start + chunk)
            n = stop - start
            spectrum = grad_spectrum[:n].zero_()
            for s, scale in enumerate(scales):
                if grad_averages[s] is not None:
                    g = _sandwich(scale.rows.T, grad_averages[s][start:stop], scale.cols.T)
                    if grad_moduli[s] is not None:
                        g += grad_moduli[s][start:stop]
                elif grad_moduli[s] is not None:
                    g = grad_moduli[s][start:stop].clone()
                else:
                    continue
                grad_z = wavelet[s][number] * _divide_by_modulus(g, moduli[s][start:stop])
                scale.filter_adjoint(torch.view_as_real(torch.fft.fft2(grad_z)),
                                     torch.view_as_real(spectrum))
            grad_u[start:stop] = torch.fft.ifft2(spectrum, norm="forward").real
        return grad_u, None


def _layer_differentiable(u: torch.Tensor, scales) -> list:
    """What :class:`_WaveletLayer` returns (moduli, then averages), in plain torch operations: slower, but autograd
    differentiates it any number of times."""
    spectrum = torch.fft.fft2(u)
    moduli = [torch.fft.ifft2(scale.filter_differentiable(spectrum), norm="forward").abs() for scale in scales]
    return moduli + [_sandwich(scale.rows, U, scale.cols) for scale, U in zip(scales, moduli)]


def _differentiable_backward(u: torch.Tensor, scales, grads) -> torch.Tensor:
    """The layer's vector-Jacobian product with a graph (for Hessian-vector products and gradgradcheck): the layer
    is recomputed from its input in differentiable operations and differentiated by autograd."""
    with torch.enable_grad():
        outputs = _layer_differentiable(u, scales)
        pairs = [(out, g) for out, g in zip(outputs, grads) if g is not None]
        if not pairs:
            return torch.zeros_like(u)
        return torch.autograd.grad([o for o, _ in pairs], u, [g for _, g in pairs], create_graph=True)[0]


def n_channels(J: int, L: int, max_order: int = 2) -> int:
    """Number of scattering channels: 1 + L J (order 1) + L^2 J (J - 1) / 2 (order 2)."""
    return 1 + L * J + (L * L * J * (J - 1) // 2 if max_order == 2 else 0)


def _integer(name: str, value, minimum: int) -> int:
    """An integer-like argument (int, numpy integer, 0-d integer array) as an int, at least ``minimum``."""
    try:
        if isinstance(value, bool) or (isinstance(value, np.ndarray) and value.dtype == np.bool_):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.") from None
    if number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number}.")
    return number


def _check_backend(backend) -> None:
    """Kymatio's ``backend`` argument: the name ``'torch'`` or Kymatio's torch backend object (named ``'torch'``)."""
    name = backend if isinstance(backend, str) else getattr(backend, "name", repr(backend))
    if name != "torch":
        raise ImportError(f"The backend {name!r} is not supported: invscat's Scattering2D runs on torch only "
                          "(backend='torch').")


# Kymatio registers its filters as buffers tensor0, tensor1, ...; a state dict saved with Kymatio's module inside
# holds them (see Scattering2D._load_from_state_dict).
_KYMATIO_BUFFER = re.compile(r"tensor\d+")


class Scattering2D(nn.Module):
    r"""2D wavelet scattering transform with Morlet wavelets (Mallat 2012; Bruna & Mallat 2013).

    A drop-in for Kymatio's torch ``Scattering2D``: the same constructor, the same filters, channel order and
    numbers, the same ``out_type='list'`` and ``pre_pad`` semantics, errors of the same types, and state dicts
    saved with Kymatio's module load into it. Each layer filters all its paths at once by products with the
    wavelets' aliased spectrum blocks (subsampling in Fourier), a few channels at a time on CPU, and low-pass
    filters by two separable matrix products.

    Parameters
    ----------
    J : int
        Number of scales; coefficients are averaged over :math:`2^J` pixels. ``J >= 1``. Any integer-like value
        (``np.int64``, a 0-d integer array) is accepted, as are ``L`` and ``max_order``.
    shape : tuple of int
        Spatial size ``(M, N)`` of the images (before padding, also with ``pre_pad=True``).
    L : int, optional
        Number of wavelet orientations over :math:`[0, \pi)`.
    max_order : {1, 2}, optional
        Highest scattering order.
    pre_pad : bool, optional
        Kymatio's meaning: the caller pads. The input then has the padded size :attr:`padded_shape` (also
        ``_M_padded``, ``_N_padded``), which is what ``shape`` is padded to; no padding is added and the output
        is cropped by one coefficient at each border as without it.
    backend : {'torch'} or Kymatio's torch backend, optional
        Accepted for compatibility; any other backend raises ImportError.
    out_type : {'array', 'list'}, optional
        ``'array'``: one tensor. ``'list'``: Kymatio's list of dicts, one per channel, with the coefficients
        under ``'coef'`` (shape ``(..., M / 2^J, N / 2^J)``) and the path under ``'j'``, ``'theta'``, ``'n'``.
    padding : {'reflect', 'periodic', 'fast'}, keyword-only
        ``'reflect'`` pads as Kymatio does and crops the border coefficients; ``'periodic'`` treats the image
        as a torus, with no padding and no crop (for stationary textures; M and N must be multiples of
        :math:`2^J`); ``'fast'`` reflects as ``'reflect'`` over a border widened to a grid whose FFTs are fast
        (no prime factor above 13): the same output shape and sampling, coefficients within about 1e-4 of the
        largest of ``'reflect'``'s from two in from the border, different in the outer ones (the wider
        reflection reaches them); up to 2x faster where Kymatio's grid has a prime factor 17 or more.

    Raises
    ------
    ShapeError
        A ValueError that is also a RuntimeError (Kymatio raises RuntimeError): 2^J larger than the smallest
        side here, an input of the wrong size or with fewer than two dimensions at call time.

    Notes
    -----
    Input: a real float32 or float64 tensor of shape ``(..., M, N)`` (any memory layout; float64 input on a
    float32 module is computed in float64). Output: ``(..., C, M / 2^J, N / 2^J)`` with
    ``C = 1 + LJ + L^2 J (J - 1) / 2`` (order 2), ordered as Kymatio: order 0, then order 1 with ``j1`` major and
    angle minor, then order 2 ordered by ``(j1, theta1, j2, theta2)`` with ``j2 > j1``.

    Filters are non-persistent buffers (they follow from the arguments), so ``.to("cuda")`` moves them and
    ``.double()`` converts them without adding them to a state dict. Gradients of any order: the first through
    a fused, memory-lean backward pass; when a graph of the gradient is asked for (``create_graph=True``, as for
    Hessian-vector products or ``gradgradcheck``), each layer is recomputed in plain differentiable operations.

    Examples
    --------
    >>> import torch
    >>> from invscat import Scattering2D
    >>> S = Scattering2D(2, (32, 32))
    >>> S(torch.rand(4, 32, 32)).shape
    torch.Size([4, 81, 8, 8])
    >>> paths = Scattering2D(2, (32, 32), out_type="list")(torch.rand(32, 32))
    >>> paths[9]["j"], paths[9]["theta"], paths[9]["coef"].shape
    ((1,), (0,), torch.Size([8, 8]))
    """

    def __init__(self, J: int, shape, L: int = 8, max_order: int = 2, pre_pad: bool = False,
                 backend="torch", out_type: str = "array", *, padding: str = "reflect"):
        super().__init__()
        J, L = _integer("J", J, 1), _integer("L", L, 1)
        max_order = _integer("max_order", max_order, 1)
        if max_order not in (1, 2):
            raise ValueError(f"max_order must be 1 or 2, got {max_order!r}.")
        _check_backend(backend)
        if out_type not in OUT_TYPES:
            raise ValueError(f"out_type must be one of {OUT_TYPES}, got {out_type!r}.")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}.")
        try:
            M, N = (operator.index(s) for s in shape)
        except (TypeError, ValueError):
            raise ValueError(f"shape must be a pair of integers (M, N), got {shape!r}.") from None
        if min(M, N) < 2**J:
            raise ShapeError(f"The smallest dimension of shape {(M, N)} is too small for J={J}: both sides must be "
                             f"at least 2**J = {2**J}.")
        pre_pad = bool(pre_pad)
        if padding != "reflect" and pre_pad:
            raise ValueError(f"pre_pad=True is for reflect padding, the padding of Kymatio; not with {padding!r}.")
        if padding == "periodic" and (M % 2**J or N % 2**J):
            raise ValueError(f"periodic padding needs both sides of the image to be multiples of 2**J = {2**J}, "
                             f"got shape {(M, N)}.")
        self.J, self.L, self.max_order, self.shape = J, L, max_order, (M, N)
        self.pre_pad, self.padding, self.out_type = pre_pad, padding, out_type
        self.backend = "torch"

        if padding == "periodic":
            self._padded, self._pad_rows, self._pad_cols, crop = (M, N), None, None, 0
        else:
            size = _fast_padded_size if padding == "fast" else _padded_size
            self._padded = (size(M, J), size(N, J))
            if pre_pad:
                self._pad_rows = self._pad_cols = None
            else:
                # Reflection indices, reflected again where the border is as wide as the image (Kymatio's
                # special case for pad == size does the same).
                self._pad_rows = self._reflect_index(M, self._padded[0])
                self._pad_cols = self._reflect_index(N, self._padded[1])
            # one coefficient at each border as Kymatio, and those of the widened border with 'fast'
            crop = tuple(1 + (p - _padded_size(n, J)) // 2 ** (J + 1) for p, n in zip(self._padded, (M, N)))
        self._M_padded, self._N_padded = self._padded
        bank = filter_bank(*self._padded, self.J, self.L, crop)
        self._blocks, self._scales = {}, {}
        for j, levels in enumerate(bank.psi):
            for res, psi in enumerate(levels):
                blocks, *self._blocks[j, res] = _alias_blocks(psi, 2 ** (j - res))
                # each real coefficient twice, interleaved like the (real, imaginary) pairs of a complex tensor,
                # and divided by the size of the inverse FFT that follows, which then runs unnormalised
                interleaved = np.repeat(blocks[..., None], 2, axis=-1) / (blocks.shape[-2] * blocks.shape[-1])
                self.register_buffer(f"psi_{j}_{res}", torch.from_numpy(interleaved).float(), persistent=False)
        for res in range(self.J):
            self.register_buffer(f"lowpass_rows_{res}", torch.from_numpy(bank.lowpass_rows[res]).float(),
                                 persistent=False)
            self.register_buffer(f"lowpass_cols_{res}", torch.from_numpy(bank.lowpass_cols[res]).float(),
                                 persistent=False)

    @staticmethod
    def _reflect_index(size, padded):
        before = (padded - size) // 2
        return torch.from_numpy(np.pad(np.arange(size), (before, padded - size - before), mode="reflect"))

    @property
    def n_channels(self) -> int:
        """Number of scattering channels C."""
        return n_channels(self.J, self.L, self.max_order)

    @property
    def padded_shape(self) -> tuple[int, int]:
        """The grid the filters live on: the input's size with ``pre_pad=True`` (Kymatio's ``_M_padded``,
        ``_N_padded``)."""
        return self._padded

    @property
    def input_shape(self) -> tuple[int, int]:
        """The spatial size the input must have: ``shape``, or :attr:`padded_shape` with ``pre_pad=True``."""
        return self._padded if self.pre_pad else self.shape

    def extra_repr(self) -> str:
        return (f"J={self.J}, shape={self.shape}, L={self.L}, max_order={self.max_order}, "
                f"pre_pad={self.pre_pad}, out_type={self.out_type!r}, padding={self.padding!r}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # A state dict saved with Kymatio's Scattering2D in this place holds its filters (tensor0, tensor1, ...).
        # Ours follow from the arguments, so they are checked for number and grid and then taken as read.
        kymatio = [key for key in state_dict
                   if key.startswith(prefix) and _KYMATIO_BUFFER.fullmatch(key[len(prefix):])]
        if kymatio:
            expected = self.J + sum(self.L * min(j + 1, max(self.J - 1, 1)) for j in range(self.J))
            grid = tuple(state_dict[prefix + "tensor0"].shape[:2]) if prefix + "tensor0" in state_dict else None
            if len(kymatio) != expected or grid != self._padded:
                error_msgs.append(f"the Kymatio filters under {prefix or 'the root'} ({len(kymatio)} tensors on a "
                                  f"{grid} grid) are not those of {self!r} ({expected} on {self._padded}).")
            for key in kymatio:
                del state_dict[key]
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    # -- building blocks ----------------------------------------------------------------------------------

    def _check_input(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Scattering2D: the input should be a torch.Tensor, got {type(x).__name__}.")
        if x.is_complex() or not x.is_floating_point():
            raise TypeError(f"Scattering2D expects a real floating-point tensor, got dtype {x.dtype}.")
        if x.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"Scattering2D computes in float32 or float64, got dtype {x.dtype}; "
                            "convert with x.float().")
        if x.ndim < 2:
            raise ShapeError(f"Scattering2D expects a tensor with at least two dimensions (..., M, N), got "
                             f"{x.ndim} dimension(s).")
        if x.numel() == 0:
            raise ValueError(f"Scattering2D got an empty tensor of shape {tuple(x.shape)}.")
        if tuple(x.shape[-2:]) != self.input_shape:
            what = "Padded tensor" if self.pre_pad else "Tensor"
            raise ShapeError(f"{what} must be of spatial size {self.input_shape}, the size this Scattering2D was "
                             f"built for, got {tuple(x.shape[-2:])}.")

    def _pad(self, x):
        if self._pad_rows is None:
            return x
        rows, cols = self._pad_rows.to(x.device), self._pad_cols.to(x.device)
        return x[..., rows[:, None], cols[None, :]]

    def _filter(self, name, dtype):
        f = getattr(self, name)
        return f if f.dtype == dtype else f.to(dtype)

    def _lowpass(self, u, res):
        """Low-pass by phi and subsample to resolution J: (..., M_res, N_res) -> (..., M_J, N_J)."""
        rows = self._filter(f"lowpass_rows_{res}", u.dtype)
        cols = self._filter(f"lowpass_cols_{res}", u.dtype)
        return _sandwich(rows, u, cols)

    def _scale(self, j, res, dtype):
        """The filters of scale j at resolution res in ``dtype``, rebuilt only when the buffers were replaced."""
        buffer = getattr(self, f"psi_{j}_{res}")
        source, scale = self._scales.get((j, res, dtype), (None, None))
        if source is not buffer:  # first use, or .to() / .double() replaced the buffers
            scale = _Scale(self._filter(f"psi_{j}_{res}", dtype), *self._blocks[j, res],
                           self._filter(f"lowpass_rows_{j}", dtype), self._filter(f"lowpass_cols_{j}", dtype))
            self._scales[j, res, dtype] = (buffer, scale)
        return scale

    def _layer(self, u, res, scales):
        """Moduli and averages for the wavelets of ``scales`` on images u (C, M_res, N_res); see _WaveletLayer."""
        parts = [self._scale(j, res, u.dtype) for j in scales]
        outputs = _WaveletLayer.apply(u, parts)
        return outputs[:len(parts)], outputs[len(parts):]

    def _flat(self, x):
        """Input (..., M, N) as (B, M_padded, N_padded), and its batch shape."""
        self._check_input(x)
        return self._pad(x.reshape(-1, *x.shape[-2:])), x.shape[:-2]

    # -- public API ---------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor):
        """Scattering coefficients of ``x``: ``(..., C, M / 2^J, N / 2^J)``, or a list of paths (``out_type``)."""
        return self.scattering(x)

    def scattering(self, x: torch.Tensor):
        """Scattering coefficients of ``x`` (Kymatio's name for the call); see the class docstring."""
        if self.out_type not in OUT_TYPES:
            raise ValueError(f"out_type must be one of {OUT_TYPES}, got {self.out_type!r}.")
        u0, batch = self._flat(x)
        order0 = [self._lowpass(u0, 0).unsqueeze(1)]
        moduli, order1 = self._layer(u0, 0, range(self.J))
        order2 = []
        for j1 in range(self.J - 1 if self.max_order == 2 else 0):
            u1 = moduli[j1]
            _, paths = self._layer(u1.reshape(-1, *u1.shape[2:]), j1, range(j1 + 1, self.J))
            # (B, L1, L2, ...) for each j2 > j1, concatenated along L2: Kymatio's (j1, theta1, j2, theta2) order.
            paths = torch.cat([p.reshape(*u1.shape[:2], *p.shape[1:]) for p in paths], dim=2)
            order2.append(paths.reshape(paths.shape[0], -1, *paths.shape[-2:]))
        out = torch.cat([*order0, *order1, *order2], dim=1)
        out = out.reshape(*batch, *out.shape[1:])
        return out if self.out_type == "array" else self._as_list(out)

    def paths(self) -> list[dict]:
        """The path of each channel, in output order: dicts with ``'j'``, ``'theta'`` and ``'n'`` (the index of
        each wavelet, ``j L + theta``), tuples as in Kymatio's list output (empty for order 0)."""
        J, L = self.J, self.L
        out = [{"j": (), "n": (), "theta": ()}]
        out += [{"j": (j,), "n": (j * L + t,), "theta": (t,)} for j in range(J) for t in range(L)]
        if self.max_order == 2:
            out += [{"j": (j1, j2), "n": (j1 * L + t1, j2 * L + t2), "theta": (t1, t2)}
                    for j1 in range(J) for t1 in range(L) for j2 in range(j1 + 1, J) for t2 in range(L)]
        return out

    def _as_list(self, out: torch.Tensor) -> list[dict]:
        return [{"coef": out[..., c, :, :], **path} for c, path in enumerate(self.paths())]

    def wavelet_moduli(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unaveraged first-order moduli :math:`|x * \\psi_{j,\\theta}|` at their native resolution.

        Parameters
        ----------
        x : torch.Tensor
            Real tensor of shape ``(..., M, N)``.

        Returns
        -------
        list of torch.Tensor
            Entry ``j`` has shape ``(..., L, ceil(M / 2^j), ceil(N / 2^j))``: the moduli for the L angles,
            sampled every :math:`2^j` pixels (where the scattering transform computes them), with the
            padding removed.
        """
        u0, batch = self._flat(x)
        top, left = ((p - s) // 2 for p, s in zip(self._padded, self.shape))
        moduli = []
        for j, u1 in enumerate(self._layer(u0, 0, range(self.J))[0]):
            step = 2**j
            rows = slice(top // step, top // step + -(-self.shape[0] // step))
            cols = slice(left // step, left // step + -(-self.shape[1] // step))
            u1 = u1[..., rows, cols]
            moduli.append(u1.reshape(*batch, *u1.shape[1:]))
        return moduli
