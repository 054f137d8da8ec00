"""Image quality measures: PSNR, SSIM and the missing-band power-spectrum error."""

from __future__ import annotations

import numpy as np


def _pair(estimate, reference):
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if estimate.shape != reference.shape:
        raise ValueError(f"the estimate has shape {estimate.shape} but the reference has shape {reference.shape}.")
    return estimate, reference


def data_range(reference) -> float:
    """The dynamic range used by :func:`psnr` and :func:`ssim`: max - min of the reference (1 if it is flat)."""
    reference = np.asarray(reference)
    return float(reference.max() - reference.min()) or 1.0


def psnr(estimate, reference) -> float:
    """Peak signal-to-noise ratio in dB, 10 log10(range^2 / MSE), the range taken from the reference."""
    estimate, reference = _pair(estimate, reference)
    mse = np.mean((estimate - reference) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(data_range(reference) ** 2 / mse))


def ssim(estimate, reference) -> float:
    """Structural similarity (Wang et al. 2004; scikit-image's implementation), averaged over channels."""
    from skimage.metrics import structural_similarity

    estimate, reference = _pair(estimate, reference)
    channel_axis = -1 if reference.ndim == 3 else None
    return float(structural_similarity(estimate, reference, data_range=data_range(reference), channel_axis=channel_axis))


def radial_power_spectrum(image) -> np.ndarray:
    """Radially averaged power spectrum |FFT|^2 of a 2-D image, in integer frequency bins 0 .. min(M, N) / 2."""
    image = np.asarray(image, dtype=np.float64)
    M, N = image.shape
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2 / (M * N)
    fy, fx = np.meshgrid(np.fft.fftfreq(M) * min(M, N), np.fft.fftfreq(N) * min(M, N), indexing="ij")
    radius = np.rint(np.hypot(fy, fx)).astype(int)
    keep = radius <= min(M, N) // 2
    totals = np.bincount(radius[keep], power[keep])
    counts = np.bincount(radius[keep])
    return totals / np.maximum(counts, 1)


def spectrum_error(estimate, reference, cutoff: float) -> float:
    """Relative error of the radially averaged power spectrum above ``cutoff`` (cycles per image width / min(M, N)).

    ``cutoff`` is a fraction of the Nyquist frequency (0.25 for 4x super-resolution): the band the measurement
    does not carry, where a smooth reconstruction shows as missing power.
    """
    estimate, reference = _pair(estimate, reference)
    if not 0 <= cutoff < 1:
        raise ValueError(f"the cut-off must be a fraction of the Nyquist frequency in [0, 1), got {cutoff}.")
    p_est, p_ref = radial_power_spectrum(estimate), radial_power_spectrum(reference)
    band = slice(int(np.ceil(cutoff * (len(p_ref) - 1))), None)
    return float(np.linalg.norm(p_est[band] - p_ref[band]) / max(np.linalg.norm(p_ref[band]), 1e-30))


def align(estimate, reference) -> np.ndarray:
    """The circular shift of ``estimate`` (or of its 180-degree rotation) that best matches ``reference``.

    Averaged scattering coefficients do not change under circular shifts (periodic padding) nor under rotation
    by 180 degrees (a Morlet wavelet turned by pi is its complex conjugate, which has the same modulus), so a
    reconstruction from them is compared with the original after undoing both, by FFT cross-correlation.
    """
    estimate, reference = _pair(estimate, reference)
    best, best_error = estimate, np.inf
    for candidate in (estimate, np.roll(estimate[::-1, ::-1], 1, axis=(0, 1))):
        correlation = np.fft.ifft2(np.fft.fft2(reference - reference.mean())
                                   * np.conj(np.fft.fft2(candidate - candidate.mean()))).real
        shift = np.unravel_index(np.argmax(correlation), correlation.shape)
        shifted = np.roll(candidate, shift, axis=(0, 1))
        error = np.mean((shifted - reference) ** 2)
        if error < best_error:
            best, best_error = shifted, error
    return best


def aligned_psnr(estimate, reference) -> float:
    """:func:`psnr` after :func:`align`."""
    return psnr(align(estimate, reference), reference)
