"""Morlet filter bank of the 2D scattering transform, built vectorised and cached.

The filters follow Kymatio's definitions exactly (Andreux et al., "Kymatio: Scattering Transforms in
Python", JMLR 2020): a Morlet wavelet psi_{j,theta} with sigma = 0.8 2^j, xi = 3 pi / (4 2^j) and slant
4 / L, periodised over the 5 x 5 neighbouring copies of the grid, and a Gaussian low-pass phi with
sigma = 0.8 2^(J-1). Kymatio evaluates every copy in Python loops; here the Gaussian envelope is only
evaluated on the copies it reaches, for all angles of a scale at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# Kymatio normalises its Gabor filters by 2 * 3.1415 * sigma^2 / slant (a truncated pi); kept so that the
# coefficients agree with Kymatio's to float rounding.
_KYMATIO_PI = 3.1415
# exp(-_ENVELOPE_CUTOFF) is below float64 resolution relative to the envelope's peak of 1.
_ENVELOPE_CUTOFF = 50.0


@dataclass(frozen=True)
class FilterBank:
    """Fourier-domain filters for one grid size.

    Attributes
    ----------
    psi : list of list of ndarray
        ``psi[j][res]`` is the real Fourier transform of the L wavelets of scale ``j`` (shape
        ``(L, M / 2**res, N / 2**res)``), cropped to resolution ``res`` for ``res <= min(j, J - 2)``.
    lowpass_rows, lowpass_cols : list of ndarray
        ``lowpass_rows[res]`` is the matrix ``A`` with ``A @ U @ B.T = (phi * U)`` sampled every
        ``2**(J - res)`` pixels, for an input ``U`` at resolution ``res``. phi is a separable Gaussian, so
        the low-pass filtering and subsampling is two small matrix products instead of two FFTs.
    """

    psi: list
    lowpass_rows: list
    lowpass_cols: list


def _gaussian_envelope(M, N, sigma, theta, slant):
    """Evaluate the envelope exp(-u^T C u) of Kymatio's Gabor filters where it is not negligible.

    Kymatio sums the envelope over the 5 x 5 copies of the M x N grid around the origin; beyond the
    radius where it falls below exp(-50) its terms are below float64 resolution, so only the window
    of that radius (clipped to the 5 x 5 copies) is evaluated, for all angles ``theta`` at once.

    Returns
    -------
    envelope : ndarray, shape (F, X, Y)
    xx, yy : ndarray, shapes (X,), (Y,)
        Integer coordinates of the window, to be folded onto the grid modulo M and N.
    """
    cos, sin = np.cos(theta), np.sin(theta)
    # C = R diag(1, slant^2) R^T / (2 sigma^2), for every angle at once.
    c00 = (cos**2 + slant**2 * sin**2) / (2 * sigma**2)
    c11 = (sin**2 + slant**2 * cos**2) / (2 * sigma**2)
    c01 = (1 - slant**2) * cos * sin / (2 * sigma**2)
    radius = int(np.ceil(np.sqrt(_ENVELOPE_CUTOFF * 2 * sigma**2 / min(1.0, slant**2))))
    xx = np.arange(max(-radius, -2 * M), min(radius, 3 * M - 1) + 1, dtype=np.float64)
    yy = np.arange(max(-radius, -2 * N), min(radius, 3 * N - 1) + 1, dtype=np.float64)
    x, y = xx[:, None], yy[None, :]
    quadratic = c00[:, None, None] * x**2 + 2 * c01[:, None, None] * x * y + c11[:, None, None] * y**2
    return np.exp(-quadratic), xx, yy


def _fold(values, xx, yy, M, N):
    """Periodise a (F, X, Y) array sampled at integer coordinates xx, yy onto the M x N grid."""
    index = ((xx.astype(np.int64) % M)[:, None] * N + (yy.astype(np.int64) % N)[None, :]).ravel()
    flat = values.reshape(values.shape[0], -1)
    if np.iscomplexobj(flat):
        return np.stack([np.bincount(index, f.real, M * N) + 1j * np.bincount(index, f.imag, M * N)
                         for f in flat]).reshape(-1, M, N)
    return np.stack([np.bincount(index, f, M * N) for f in flat]).reshape(-1, M, N)


def _morlet_fourier(M, N, sigma, thetas, xi, slant):
    """Real Fourier transforms (F, M, N) of Kymatio's Morlet wavelets for the angles ``thetas``."""
    envelope, xx, yy = _gaussian_envelope(M, N, sigma, thetas, slant)
    phase_x = np.exp(1j * xi * np.cos(thetas)[:, None] * xx[None, :])
    phase_y = np.exp(1j * xi * np.sin(thetas)[:, None] * yy[None, :])
    gabor = _fold(envelope * (phase_x[:, :, None] * phase_y[:, None, :]), xx, yy, M, N)
    modulus = _fold(envelope, xx, yy, M, N)
    # Morlet = Gabor - K * envelope, K chosen for zero mean.
    k = gabor.sum(axis=(1, 2)) / modulus.sum(axis=(1, 2))
    morlet = (gabor - k[:, None, None] * modulus) / (2 * _KYMATIO_PI * sigma**2 / slant)
    return np.real(np.fft.fft2(morlet))


def _band(size, res):
    """Indices of the frequencies of a length-``size`` axis kept at resolution ``res`` (Kymatio's crop)."""
    kept = size // 2**res
    return np.r_[0:kept // 2, size - (kept - kept // 2):size]


def _crop_spectrum(spectrum, res):
    """Kymatio's periodize_filter_fft: keep the band that survives subsampling by 2**res (last two axes)."""
    M, N = spectrum.shape[-2:]
    return spectrum[..., _band(M, res)[:, None], _band(N, res)[None, :]]


def _lowpass_matrix(size, sigma, J, res, crop):
    """Matrix of one axis of the Gaussian low-pass at resolution ``res``, subsampled to resolution J.

    Row p computes (h * u)[2**(J-res) p], h being the inverse FFT of phi's 1D spectrum cropped to the
    resolution; ``crop`` drops that many rows at each end (Kymatio's unpadding).
    """
    grid = np.arange(-2 * size, 3 * size, dtype=np.float64)
    profile = np.exp(-grid**2 / (2 * sigma**2)).reshape(5, size).sum(axis=0)
    spectrum = np.real(np.fft.fft(profile))
    cropped = spectrum[_band(size, res)]
    kernel = np.real(np.fft.ifft(cropped))
    n = cropped.size
    step = 2 ** (J - res)
    samples = np.arange(0, n, step)
    matrix = kernel[(samples[:, None] - np.arange(n)[None, :]) % n]
    return matrix[crop:matrix.shape[0] - crop]


@functools.lru_cache(maxsize=16)
def filter_bank(M: int, N: int, J: int, L: int, crop) -> FilterBank:
    """Build (once per argument set) the Fourier filters of the scattering transform on an M x N grid.

    Parameters
    ----------
    M, N : int
        Size of the (padded) grid the filters live on; multiples of ``2**J``.
    J : int
        Number of scales.
    L : int
        Number of angles.
    crop : int or (int, int)
        Coefficients dropped at each border of the output (1 with reflect padding, as Kymatio; 0 periodic), or
        (rows, columns) to drop different numbers along the two axes.

    Returns
    -------
    FilterBank
    """
    thetas = (int(L - L / 2 - 1) - np.arange(L)) * np.pi / L
    psi = []
    for j in range(J):
        full = _morlet_fourier(M, N, 0.8 * 2**j, thetas, 3.0 / 4.0 * np.pi / 2**j, 4.0 / L)
        psi.append([_crop_spectrum(full, res) for res in range(min(j + 1, max(J - 1, 1)))])
    sigma_phi = 0.8 * 2 ** (J - 1)
    norm = 1.0 / (2 * _KYMATIO_PI * sigma_phi**2)
    crop_rows, crop_cols = (crop, crop) if isinstance(crop, int) else crop
    rows = [norm * _lowpass_matrix(M, sigma_phi, J, res, crop_rows) for res in range(J)]
    cols = [_lowpass_matrix(N, sigma_phi, J, res, crop_cols) for res in range(J)]
    return FilterBank(psi=psi, lowpass_rows=rows, lowpass_cols=cols)
