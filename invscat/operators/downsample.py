"""Blur followed by decimation: the forward model of super-resolution."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from invscat.operators.base import LinearOperator

KERNELS = ("gaussian", "box", "bicubic")
BOUNDARIES = ("reflect", "circular")


def _cubic(u):
    # Keys' cubic convolution kernel with a = -0.5 (the kernel of MATLAB's imresize 'bicubic').
    u = np.abs(u)
    return np.where(u <= 1, 1.5 * u**3 - 2.5 * u**2 + 1,
                    np.where(u < 2, -0.5 * u**3 + 2.5 * u**2 - 4 * u + 2, 0.0))


def make_kernel(kind: str, factor: int, sigma: float | None = None) -> np.ndarray:
    """The 2D blur kernel (sums to 1) applied before decimation by ``factor``.

    The kernel's size has the parity of ``factor`` so that its centre falls on the centre of each
    ``factor x factor`` block of pixels that one low-resolution pixel covers.

    Parameters
    ----------
    kind : {'gaussian', 'box', 'bicubic'}
        'gaussian': standard deviation ``sigma`` (default ``factor / 2``) pixels, truncated at 3 sigma;
        'box': the mean over each block (area averaging); 'bicubic': Keys' cubic kernel stretched by
        ``factor`` (antialiased bicubic downscaling, as MATLAB's ``imresize``).
    factor : int
        Decimation factor.
    sigma : float, optional
        Gaussian standard deviation in high-resolution pixels.
    """
    if kind == "box":
        profile = np.ones(factor)
    elif kind == "gaussian":
        sigma = factor / 2 if sigma is None else float(sigma)
        if not np.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"the Gaussian blur sigma must be a positive number, got {sigma}.")
        half = int(np.ceil(3 * sigma))
        size = 2 * half + 1 if factor % 2 else 2 * half + 2
        positions = np.arange(size) - (size - 1) / 2
        profile = np.exp(-positions**2 / (2 * sigma**2))
    elif kind == "bicubic":
        size = 4 * factor - (factor % 2)
        positions = (np.arange(size) - (size - 1) / 2) / factor
        profile = _cubic(positions)
    else:
        raise ValueError(f"unknown blur kernel {kind!r}; expected one of {', '.join(KERNELS)} or a 2-D array.")
    profile = profile / profile.sum()
    return np.outer(profile, profile)


def _boundary_index(size: int, before: int, length: int, boundary: str) -> torch.Tensor:
    """Indices into an axis of ``size`` for positions -before, ..., length - before - 1, extended by boundary."""
    positions = np.arange(length) - before
    if boundary == "circular":
        index = positions % size
    else:  # reflect about the edge pixels (numpy's 'reflect'), repeated for wide borders
        period = max(2 * size - 2, 1)
        q = positions % period
        index = np.where(q < size, q, period - q)
    return torch.from_numpy(index.astype(np.int64))


class Downsample(LinearOperator):
    """Blur by a kernel, then keep one pixel in ``factor`` along each axis.

    ``y[i, j] = sum_{s,t} k[s, t] x[f i + s - p, f j + t - p]`` with ``p = (K - f) / 2`` for a K x K kernel:
    each low-resolution pixel is the kernel-weighted average centred on the block of ``f x f`` pixels it
    covers. Outside the image, ``x`` is extended by ``boundary``. The adjoint is exact (a transposed
    convolution followed by folding the extension back).

    The default, a Gaussian of standard deviation ``factor / 2`` with reflecting boundaries, is the model
    ``invscat superres --simulate`` degrades its input with.

    Parameters
    ----------
    shape : tuple of int
        High-resolution image shape (M, N); both must be multiples of ``factor``.
    factor : int
        Decimation factor >= 1.
    kernel : {'gaussian', 'box', 'bicubic'} or array
        Blur kernel (see :func:`make_kernel`), or a 2-D array (normalised to sum 1).
    sigma : float, optional
        Gaussian standard deviation in pixels (default ``factor / 2``).
    boundary : {'reflect', 'circular'}
        How the image is extended beyond its border.
    """

    def __init__(self, shape, factor: int, kernel="gaussian", sigma: float | None = None, boundary: str = "reflect"):
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ValueError(f"the decimation factor must be an integer >= 1, got {factor!r}.")
        M, N = (int(s) for s in shape)
        if M % factor or N % factor:
            raise ValueError(f"the image shape {(M, N)} must be a multiple of the factor {factor} along both axes.")
        if boundary not in BOUNDARIES:
            raise ValueError(f"unknown boundary {boundary!r}; expected one of {', '.join(BOUNDARIES)}.")
        if isinstance(kernel, str):
            weights = make_kernel(kernel, factor, sigma)
        else:
            weights = np.asarray(kernel, dtype=np.float64)
            if weights.ndim != 2 or weights.size == 0 or not np.isfinite(weights).all() or weights.sum() == 0:
                raise ValueError("a custom blur kernel must be a non-empty 2-D array of finite numbers with a non-zero sum.")
            weights = weights / weights.sum()
        self.factor, self.boundary = int(factor), boundary
        self.domain_shape, self.range_shape = (M, N), (M // factor, N // factor)
        self.kernel = torch.from_numpy(weights)
        K1, K2 = weights.shape
        self._rows = _boundary_index(M, (K1 - factor) // 2, factor * (M // factor - 1) + K1, boundary)
        self._cols = _boundary_index(N, (K2 - factor) // 2, factor * (N // factor - 1) + K2, boundary)

    def _weights(self, x):
        return self.kernel.to(device=x.device, dtype=x.dtype)[None, None]

    def _forward(self, x):
        rows, cols = self._rows.to(x.device), self._cols.to(x.device)
        padded = x[:, rows[:, None], cols[None, :]]
        return F.conv2d(padded[:, None], self._weights(x), stride=self.factor)[:, 0]

    def _adjoint(self, y):
        rows, cols = self._rows.to(y.device), self._cols.to(y.device)
        weights = self._weights(y)
        spread = _transposed_convolution(y, weights[0, 0], self.factor)
        # conv_transpose may produce fewer rows than the padded grid when K < factor; pad with zeros.
        spread = F.pad(spread, (0, cols.numel() - spread.shape[-1], 0, rows.numel() - spread.shape[-2]))
        M, N = self.domain_shape
        folded = y.new_zeros(y.shape[0], M, cols.numel()).index_add_(1, rows, spread)
        return y.new_zeros(y.shape[0], M, N).index_add_(2, cols, folded)


def _transposed_convolution(y: torch.Tensor, kernel: torch.Tensor, factor: int) -> torch.Tensor:
    """conv_transpose2d(y, kernel, stride=factor) for y (B, m, n), computed by phases: output pixel (f u + r, f v + s)
    is the plain convolution of y with the sub-kernel k[f d + r, f e + s]; the f^2 phases are one conv2d with f^2
    output channels, interleaved by pixel_shuffle. On CPU, 10-20x faster than conv_transpose2d with a stride (and
    than it without one). Output (B, f (m - 1) + K1, f (n - 1) + K2)."""
    K1, K2 = kernel.shape
    D1, D2 = -(-K1 // factor), -(-K2 // factor)  # taps per phase
    full = F.pad(kernel, (0, D2 * factor - K2, 0, D1 * factor - K1))
    phases = full.reshape(D1, factor, D2, factor).permute(1, 3, 0, 2).reshape(factor * factor, 1, D1, D2)
    padded = F.pad(y[:, None], (D2 - 1, D2 - 1, D1 - 1, D1 - 1))
    out = F.pixel_shuffle(F.conv2d(padded, phases.flip(-2, -1)), factor)[:, 0]
    m, n = y.shape[-2:]
    return out[:, : factor * (m - 1) + K1, : factor * (n - 1) + K2]


class Blur(Downsample):
    """Blur by a kernel, with no decimation: the forward model of deconvolution (a :class:`Downsample` of factor 1).

    Parameters
    ----------
    shape : tuple of int
        Image shape (M, N).
    kernel : {'gaussian', 'box', 'bicubic'} or array
        Blur kernel (see :func:`make_kernel`), or a 2-D array (normalised to sum 1).
    sigma : float
        Gaussian standard deviation in pixels.
    boundary : {'reflect', 'circular'}
        How the image is extended beyond its border.

    Examples
    --------
    >>> import numpy as np
    >>> B = Blur((32, 32), sigma=1.5)
    >>> float(B(np.ones((32, 32), np.float32)).mean().round(5)), B.adjoint_test() < 1e-6
    (1.0, True)
    """

    def __init__(self, shape, kernel="gaussian", sigma: float | None = 2.0, boundary: str = "reflect"):
        super().__init__(shape, 1, kernel, sigma, boundary)
