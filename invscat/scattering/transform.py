"""The 2D wavelet scattering transform as a torch module, Kymatio-compatible coefficient for coefficient."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from invscat.scattering.filters import filter_bank

PADDINGS = ("reflect", "periodic")


def _padded_size(size: int, J: int) -> int:
    # Kymatio's compute_padding: at least 2^J of reflected border, rounded to a multiple of 2^J.
    return ((size + 2**J) // 2**J + 1) * 2**J


# Blocks where a wavelet's spectrum is below this fraction of its peak are skipped when aliasing (their
# contribution is far below float32 resolution).
_NEGLIGIBLE = 1e-10
# Products are formed a few channels at a time so that they stay in cache: on CPU, one batched product of
# all paths at full resolution is several times slower than the same work done in cache-sized pieces.
_CHUNK_BYTES = 8 * 2**20


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


# With more than this many alias blocks (a large subsampling factor, small blocks), one batched product over all
# blocks beats looping over them (measured on CPU, forward+backward: 8x at 64x64 J=6 batch 1).
_LOOP_BLOCKS = 16


def _batched(nb: int, Mk: int, Nk: int) -> bool:
    return nb > _LOOP_BLOCKS


def _block_index(offsets, Mk: int, Nk: int, k_cols: int) -> list:
    """Positions in the row-major k x k grid of blocks of the blocks starting at ``offsets``."""
    return [(r // Mk) * k_cols + c // Nk for r, c in offsets]


def _blocks_of(x: torch.Tensor, index: list, Mk: int, Nk: int) -> torch.Tensor:
    """(C, M, N, 2) real view of spectra -> (2C, len(index), Mk * Nk): the listed Mk x Nk blocks, flattened."""
    C, M, N, _ = x.shape
    k_rows, k_cols = M // Mk, N // Nk
    grid = x.reshape(C, k_rows, Mk, k_cols, Nk, 2).permute(0, 5, 1, 3, 2, 4).reshape(2 * C, k_rows * k_cols, Mk * Nk)
    return grid[:, index]


class _AliasedFilter(torch.autograd.Function):
    r"""Filter spectra by L real filters and subsample by k: :math:`\hat y_l = \frac1{k^2}\sum_b \hat x_b \hat\psi_{l,b}`.

    ``spectrum`` (C, M, N) complex, ``blocks`` (nb, L, M/k, N/k) real, ``offsets`` and ``per_filter`` as
    returned by :func:`_alias_blocks`; returns (C, L, M/k, N/k). The map is linear with real coefficients,
    so its backward pass gathers the gradient back onto the same blocks.
    """

    @staticmethod
    def forward(ctx, spectrum, blocks, offsets, per_filter):
        ctx.save_for_backward(blocks)
        ctx.offsets, ctx.per_filter, ctx.shape = offsets, per_filter, spectrum.shape
        C = spectrum.shape[0]
        nb, L, Mk, Nk = blocks.shape
        x = torch.view_as_real(spectrum)
        if _batched(nb, Mk, Nk):
            # many small blocks (a large subsampling factor): one batched product over all of them, for each
            # frequency, y[c, l, p] = sum_b x[c, b, p] psi[b, l, p]
            xb = _blocks_of(x, _block_index(offsets, Mk, Nk, x.shape[2] // Nk), Mk, Nk)
            out = torch.einsum("cbp,blp->clp", xb, blocks.reshape(nb, L, Mk * Nk))
            return torch.view_as_complex(out.reshape(C, 2, L, Mk, Nk).permute(0, 2, 3, 4, 1).contiguous())
        filters = blocks[..., None]
        out = torch.empty(C, L, Mk, Nk, 2, dtype=x.dtype, device=x.device)
        chunk = max(1, _CHUNK_BYTES // (L * Mk * Nk * 2 * x.element_size()))
        for start in range(0, C, chunk):
            piece = x[start:start + chunk]
            for l, kept in enumerate(per_filter):
                acc = out[start:start + chunk, l]
                for n, i in enumerate(kept):
                    r, c = offsets[i]
                    block = piece[:, r:r + Mk, c:c + Nk]
                    torch.mul(block, filters[i, l], out=acc) if n == 0 else acc.addcmul_(block, filters[i, l])
        return torch.view_as_complex(out)

    @staticmethod
    def backward(ctx, grad_out):
        (blocks,) = ctx.saved_tensors
        nb, L, Mk, Nk = blocks.shape
        g = torch.view_as_real(grad_out)
        if _batched(nb, Mk, Nk):
            C, M, N = ctx.shape
            k_rows, k_cols = M // Mk, N // Nk
            gl = g.permute(0, 4, 1, 2, 3).reshape(2 * C, L, Mk * Nk)
            gb = torch.einsum("clp,blp->cbp", gl, blocks.reshape(nb, L, Mk * Nk))
            full = g.new_zeros(2 * C, k_rows * k_cols, Mk * Nk)
            full[:, _block_index(ctx.offsets, Mk, Nk, k_cols)] = gb
            full = full.reshape(C, 2, k_rows, k_cols, Mk, Nk).permute(0, 2, 4, 3, 5, 1).reshape(C, M, N, 2)
            return torch.view_as_complex(full.contiguous()), None, None, None
        grad = torch.zeros(*ctx.shape, 2, dtype=g.dtype, device=g.device)
        filters = blocks[..., None]
        for l, kept in enumerate(ctx.per_filter):
            for i in kept:
                r, c = ctx.offsets[i]
                grad[:, r:r + Mk, c:c + Nk].addcmul_(g[:, l], filters[i, l])
        return torch.view_as_complex(grad), None, None, None


class _Modulus(torch.autograd.Function):
    """Complex modulus whose gradient is 0 where z = 0 (a subgradient), computed without complex division."""

    @staticmethod
    def forward(ctx, z):
        parts = torch.view_as_real(z)
        modulus = torch.hypot(parts[..., 0], parts[..., 1])
        ctx.save_for_backward(z, modulus)
        return modulus

    @staticmethod
    def backward(ctx, grad):
        z, modulus = ctx.saved_tensors
        scale = (grad / modulus).masked_fill_(modulus == 0, 0)
        return torch.view_as_complex(torch.view_as_real(z) * scale.unsqueeze(-1))


def n_channels(J: int, L: int, max_order: int = 2) -> int:
    """Number of scattering channels: 1 + L J (order 1) + L^2 J (J - 1) / 2 (order 2)."""
    return 1 + L * J + (L * L * J * (J - 1) // 2 if max_order == 2 else 0)


class Scattering2D(nn.Module):
    r"""2D wavelet scattering transform with Morlet wavelets (Mallat 2012; Bruna & Mallat 2013).

    A drop-in for Kymatio's ``Scattering2D`` (torch frontend): same filters, same channel order and the same
    numbers, computed by batching all paths of a scale pair, low-pass filtering by separable matrix
    products and subsampling in Fourier.

    Parameters
    ----------
    J : int
        Number of scales; coefficients are averaged over :math:`2^J` pixels. ``J >= 1``.
    shape : tuple of int
        Spatial size ``(M, N)`` of the input images.
    L : int, optional
        Number of wavelet orientations over :math:`[0, \pi)`.
    max_order : {1, 2}, optional
        Highest scattering order.
    pre_pad : bool, optional
        If True the input is taken as already padded (Kymatio's semantics): no padding is added and the
        output is still cropped by one coefficient at each border.
    padding : {'reflect', 'periodic'}, optional
        ``'reflect'`` pads as Kymatio does and crops the border coefficients; ``'periodic'`` treats the image
        as a torus, with no padding and no crop (for stationary textures; M and N must be multiples of
        :math:`2^J`).

    Notes
    -----
    Input: a real float32 or float64 tensor of shape ``(..., M, N)``. Output: ``(..., C, M / 2^J, N / 2^J)``
    with ``C = 1 + LJ + L^2 J (J - 1) / 2`` (order 2), ordered as Kymatio: order 0, then order 1 with
    ``j1`` major and angle minor, then order 2 ordered by ``(j1, theta1, j2, theta2)`` with ``j2 > j1``.

    Filters are registered as buffers, so ``.to("cuda")`` moves them and ``.double()`` converts them.

    Examples
    --------
    >>> import torch
    >>> from invscat import Scattering2D
    >>> S = Scattering2D(J=2, shape=(32, 32))
    >>> S(torch.rand(4, 32, 32)).shape
    torch.Size([4, 81, 8, 8])
    """

    def __init__(self, J: int, shape, L: int = 8, max_order: int = 2, pre_pad: bool = False,
                 padding: str = "reflect"):
        super().__init__()
        if isinstance(J, bool) or not isinstance(J, (int, np.integer)) or J < 1:
            raise ValueError(f"J must be an integer >= 1, got {J!r}.")
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1:
            raise ValueError(f"L must be an integer >= 1, got {L!r}.")
        if max_order not in (1, 2):
            raise ValueError(f"max_order must be 1 or 2, got {max_order!r}.")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}.")
        try:
            M, N = (int(s) for s in shape)
        except (TypeError, ValueError):
            raise ValueError(f"shape must be a pair of integers (M, N), got {shape!r}.") from None
        if min(M, N) < 2**J:
            raise ValueError(f"an image of shape {(M, N)} is too small for J={J}: both sides must be at least "
                             f"2**J = {2**J}.")
        if padding == "periodic" and (M % 2**J or N % 2**J):
            raise ValueError(f"periodic padding needs both sides of the image to be multiples of 2**J = {2**J}, "
                             f"got shape {(M, N)}.")
        self.J, self.L, self.max_order, self.shape = int(J), int(L), max_order, (M, N)
        self.pre_pad, self.padding = pre_pad, padding

        if padding == "periodic":
            self._padded, self._pad_rows, self._pad_cols, crop = (M, N), None, None, 0
        else:
            if pre_pad:
                self._padded, self._pad_rows, self._pad_cols = (M, N), None, None
            else:
                self._padded = (_padded_size(M, J), _padded_size(N, J))
                # Reflection indices, reflected again where the border is as wide as the image (Kymatio's
                # special case for pad == size does the same).
                self._pad_rows = self._reflect_index(M, self._padded[0])
                self._pad_cols = self._reflect_index(N, self._padded[1])
            crop = 1
        bank = filter_bank(*self._padded, self.J, self.L, crop)
        self._blocks = {}
        for j, levels in enumerate(bank.psi):
            for res, psi in enumerate(levels):
                blocks, *self._blocks[j, res] = _alias_blocks(psi, 2 ** (j - res))
                self.register_buffer(f"psi_{j}_{res}", torch.from_numpy(blocks).float())
        for res in range(self.J):
            self.register_buffer(f"lowpass_rows_{res}", torch.from_numpy(bank.lowpass_rows[res]).float())
            self.register_buffer(f"lowpass_cols_{res}", torch.from_numpy(bank.lowpass_cols[res]).float())

    @staticmethod
    def _reflect_index(size, padded):
        before = (padded - size) // 2
        return torch.from_numpy(np.pad(np.arange(size), (before, padded - size - before), mode="reflect"))

    @property
    def n_channels(self) -> int:
        """Number of scattering channels C."""
        return n_channels(self.J, self.L, self.max_order)

    def extra_repr(self) -> str:
        return (f"J={self.J}, shape={self.shape}, L={self.L}, max_order={self.max_order}, "
                f"padding={self.padding!r}")

    # -- building blocks ----------------------------------------------------------------------------------

    def _check_input(self, x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Scattering2D expects a torch.Tensor, got {type(x).__name__}.")
        if x.is_complex() or not x.is_floating_point():
            raise TypeError(f"Scattering2D expects a real floating-point tensor, got dtype {x.dtype}.")
        if x.ndim < 2:
            raise ValueError(f"Scattering2D expects a tensor of shape (..., M, N), got {x.ndim} dimension(s).")
        if tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f"Scattering2D was built for images of shape {self.shape}, got {tuple(x.shape[-2:])}.")

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
        return rows @ u @ cols.T

    def _wavelet_modulus(self, spectrum, j, res, dtype):
        """|u * psi_{j, theta}| for all L angles, subsampled to resolution j, from u's spectrum at res."""
        blocks = self._filter(f"psi_{j}_{res}", dtype)
        batch = spectrum.shape[:-2]
        filtered = _AliasedFilter.apply(spectrum.reshape(-1, *spectrum.shape[-2:]), blocks, *self._blocks[j, res])
        modulus = _Modulus.apply(torch.fft.ifft2(filtered))
        return modulus.reshape(*batch, *modulus.shape[1:])

    # -- public API ---------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scattering coefficients of ``x``, shape ``(..., C, M / 2^J, N / 2^J)``."""
        self._check_input(x)
        batch = x.shape[:-2]
        u0 = self._pad(x.reshape(-1, *self.shape))
        spectrum = torch.fft.fft2(u0)
        order0 = [self._lowpass(u0, 0).unsqueeze(1)]
        order1, order2 = [], []
        for j1 in range(self.J):
            u1 = self._wavelet_modulus(spectrum, j1, 0, x.dtype)
            order1.append(self._lowpass(u1, j1))
            if self.max_order < 2 or j1 == self.J - 1:
                continue
            spectrum1 = torch.fft.fft2(u1)
            # (B, L1, L2, ...) for each j2 > j1, concatenated along L2: Kymatio's (j1, theta1, j2, theta2) order.
            paths = [self._lowpass(self._wavelet_modulus(spectrum1, j2, j1, x.dtype), j2)
                     for j2 in range(j1 + 1, self.J)]
            paths = torch.cat(paths, dim=2)
            order2.append(paths.reshape(paths.shape[0], -1, *paths.shape[-2:]))
        out = torch.cat(order0 + order1 + order2, dim=1)
        return out.reshape(*batch, *out.shape[1:])

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
        self._check_input(x)
        batch = x.shape[:-2]
        u0 = self._pad(x.reshape(-1, *self.shape))
        spectrum = torch.fft.fft2(u0)
        top = (self._padded[0] - self.shape[0]) // 2 if self._pad_rows is not None else 0
        left = (self._padded[1] - self.shape[1]) // 2 if self._pad_cols is not None else 0
        moduli = []
        for j in range(self.J):
            u1 = self._wavelet_modulus(spectrum, j, 0, x.dtype)
            step = 2**j
            rows = slice(top // step, top // step + -(-self.shape[0] // step))
            cols = slice(left // step, left // step + -(-self.shape[1] // step))
            u1 = u1[..., rows, cols]
            moduli.append(u1.reshape(*batch, *u1.shape[1:]))
        return moduli
