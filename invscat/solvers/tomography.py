"""Tomography baselines through ASTRA (run by :meth:`Radon.run_algorithm`, which owns the ASTRA objects):
filtered backprojection (parallel and fan beam), SIRT and CGLS."""

from __future__ import annotations

import numpy as np
import torch
from scipy.interpolate import RegularGridInterpolator

from invscat.operators.radon import Radon

FBP_FILTERS = ("ram-lak", "shepp-logan", "hann")


def _as_batch(sinogram, radon: Radon):
    array = np.asarray(sinogram, dtype=np.float32)
    if array.shape[-2:] != radon.range_shape:
        raise ValueError(f"the sinogram must have shape (..., {radon.range_shape[0]}, {radon.range_shape[1]}) "
                         f"(views x detectors), got {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError("the sinogram contains NaN or infinite values.")
    return array.reshape(-1, *radon.range_shape), array.shape[:-2]


def fbp(radon: Radon, sinogram, window: str = "ram-lak") -> np.ndarray:
    """Filtered backprojection.

    Parallel beam: each view is filtered by the ramp filter built in the spatial domain (Kak & Slaney 1988, eq.
    61: no DC bias), zero-padded to twice its length (no wrap-around), apodised by ``window``, then backprojected
    pixel by pixel with linear interpolation on the detector, honouring the operator's detector spacing, rotation
    axis and image offsets. Fan beam rebins the fan-beam sinogram onto parallel rays by bilinear interpolation
    (Kak & Slaney 1988, section 3.4.3) first; it needs the fan views to cover 360 degrees.

    Parameters
    ----------
    radon : Radon
        The operator that produced the sinogram.
    sinogram : array_like
        Shape (..., views, detectors).
    window : {'ram-lak', 'shepp-logan', 'hann'}
        The ramp filter's apodisation window.

    Returns
    -------
    ndarray
        float32 image(s) of shape (..., M, N).

    Examples
    --------
    >>> from invscat import data, metrics
    >>> A = Radon((64, 64), 90)
    >>> x = data.shepp_logan(64)
    >>> bool(metrics.psnr(fbp(A, A(x)), x) > 25)
    True
    """
    if window not in FBP_FILTERS:
        raise ValueError(f"unknown FBP filter {window!r}; expected one of {', '.join(FBP_FILTERS)}.")
    sinograms, batch = _as_batch(sinogram, radon)
    if radon.geometry == "parallel":
        out = _parallel_fbp(radon, sinograms, window)
    else:
        if radon.axis_offset or any(radon.image_offset):
            raise ValueError("FBP of a fan-beam scan with a rotation-axis or image offset is not supported; use "
                             "sirt, cgls or a regularised method.")
        parallel = parallel_equivalent(radon)
        rebinned = np.stack([rebin_fan_to_parallel(radon, parallel, s) for s in sinograms])
        out = _parallel_fbp(parallel, rebinned, window)
    return out.reshape(*batch, *radon.domain_shape)


def ramp_filter(size: int, window: str = "ram-lak") -> np.ndarray:
    """The frequency response (``size`` values, numpy's FFT order) of the discrete ramp filter of unit sampling,
    computed from its spatial-domain form h(0) = 1/4, h(n) = -1/(pi n)^2 for odd n, 0 for even n (Kak & Slaney 1988,
    eq. 61), times 2, apodised by ``window``."""
    offsets = np.abs(np.round(np.fft.fftfreq(size) * size)).astype(np.int64)
    kernel = np.zeros(size)
    kernel[0] = 0.25
    odd = offsets % 2 == 1
    kernel[odd] = -1.0 / (np.pi * offsets[odd]) ** 2
    response = 2 * np.real(np.fft.fft(kernel))
    frequency = np.fft.fftfreq(size)
    if window == "shepp-logan":
        response *= np.sinc(frequency)
    elif window == "hann":
        response *= np.fft.fftshift(np.hanning(size))
        response = (response + np.roll(response[::-1], 1)) / 2  # even in frequency: a real filter
    return response


def _parallel_fbp(radon: Radon, sinograms: np.ndarray, window: str) -> np.ndarray:
    # the filtered views extend beyond the detector (the object is zero outside what it saw): where pixels project
    # off it by more than a cell (a detector spanning only the image side), keep half a detector more on each side
    reach = (np.hypot(*radon.domain_shape) / 2 + np.hypot(*radon.image_offset)) / radon.detector_spacing
    margin = radon.detectors // 2 + 2 if reach + abs(radon.axis_offset) > (radon.detectors - 1) / 2 + 1 else 0
    extended = np.pad(sinograms, ((0, 0), (0, 0), (margin, margin)))
    width = extended.shape[-1]
    size = max(64, int(2 ** np.ceil(np.log2(2 * width))))
    response = ramp_filter(size, window)[: size // 2 + 1]
    filtered = np.fft.irfft(np.fft.rfft(extended, n=size, axis=-1) * response, n=size, axis=-1)[..., :width]
    return backproject(radon, filtered * view_weights(radon.angles)[:, None] / radon.detector_spacing
                       ).astype(np.float32)


def view_weights(angles) -> np.ndarray:
    """FBP's weight of each parallel-beam view: its share of the half turn (half the gaps to its neighbours, angles
    taken modulo pi), scaled so that the weights add up to pi / 2. Evenly spread views get pi / (2 views), as in
    ASTRA and scikit-image, limited arcs included (a missing wedge is not a gap: dividing by the arc instead lost
    1-3 dB on training images at 90 views over 120 degrees).

    >>> view_weights(np.linspace(0, np.pi, 4, endpoint=False)) * 8 / np.pi
    array([1., 1., 1., 1.])
    """
    angles = np.mod(np.asarray(angles, np.float64), np.pi)
    if angles.size == 1:
        return np.array([np.pi / 2])
    order = np.argsort(angles)
    gaps = np.diff(angles[order])
    wrap = np.pi - (angles[order][-1] - angles[order][0])
    typical = np.median(gaps[gaps > 0]) if (gaps > 0).any() else np.pi / angles.size
    wrap = wrap if wrap <= 2 * typical else 0.0  # a missing wedge, not a gap between views
    before = np.concatenate([[wrap], gaps])
    after = np.concatenate([gaps, [wrap]])
    share = (before + after) / 2
    share[(before == 0) & (after == 0)] = typical  # a lone repeated angle
    if wrap == 0.0:  # the arc's ends: the one gap they have
        share[0], share[-1] = max(share[0], after[0]), max(share[-1], before[-1])
    weights = np.empty_like(share)
    weights[order] = share
    return weights * (np.pi / 2) / weights.sum()


def backproject(radon: Radon, sinograms) -> np.ndarray:
    """Pixel-driven backprojection of parallel-beam sinograms (B, views, cells): for every pixel and view, the
    sinogram interpolated linearly at the pixel's detector coordinate, summed over views (zero off the detector).
    The cells are ``radon``'s detector, or a wider one with the same centre. The transpose of pixel-driven
    projection, not of ASTRA's projector: what FBP needs."""
    q = torch.as_tensor(np.asarray(sinograms), dtype=torch.float64)
    M, N = radon.domain_shape
    detectors = q.shape[-1]
    dx, dy = radon.image_offset
    x = torch.arange(N, dtype=torch.float64)[None, :] - (N - 1) / 2 + dx
    y = (M - 1) / 2 - torch.arange(M, dtype=torch.float64)[:, None] + dy
    out = q.new_zeros(q.shape[0], M * N)
    for k, angle in enumerate(np.asarray(radon.angles, np.float64)):
        u = ((x * np.cos(angle) + y * np.sin(angle)) / radon.detector_spacing + (detectors - 1) / 2
             + radon.axis_offset).reshape(-1)
        inside = ((u >= 0) & (u <= detectors - 1)).double()  # off the detector: nothing
        u = u.clamp(0, detectors - 1)
        left = torch.floor(u).long().clamp(max=max(detectors - 2, 0))
        weight = (u - left) * inside
        row = q[:, k]
        out += row[:, left] * (inside - weight) + row[:, (left + 1).clamp(max=detectors - 1)] * weight
    return out.reshape(-1, M, N).numpy()


def parallel_equivalent(radon: Radon) -> Radon:
    """The parallel-beam operator onto whose rays :func:`rebin_fan_to_parallel` interpolates a fan sinogram:
    as many views over 180 degrees as the fan scan has over 360, unit-width detectors covering the image."""
    views = max(1, radon.range_shape[0] // 2)
    return Radon(radon.domain_shape, views, geometry="parallel")


def rebin_fan_to_parallel(radon: Radon, parallel: Radon, sinogram: np.ndarray) -> np.ndarray:
    """Interpolate a flat-detector fan-beam sinogram (views, detectors) onto the rays of ``parallel``.

    A fan ray from source angle beta hitting detector coordinate t makes the angle
    gamma = atan(t / (D_so + D_od)) with the central ray; it is the parallel ray with angle
    theta = beta - gamma at signed distance s = D_so sin(gamma) from the centre (ASTRA's conventions,
    checked against its parallel projector in the tests).
    """
    so, od = radon.source_distance, radon.detector_distance
    beta = np.mod(radon.angles, 2 * np.pi)
    order = np.argsort(beta)
    beta, values = beta[order], sinogram[order]
    # periodic in beta: repeat the first and last views one turn away
    beta = np.concatenate([beta[-1:] - 2 * np.pi, beta, beta[:1] + 2 * np.pi])
    values = np.concatenate([values[-1:], values, values[:1]])
    t = (np.arange(radon.detectors) - (radon.detectors - 1) / 2) * radon.detector_spacing
    interpolate = RegularGridInterpolator((beta, t), values, bounds_error=False, fill_value=0.0)
    theta = parallel.angles[:, None]
    s = ((np.arange(parallel.detectors) - (parallel.detectors - 1) / 2) * parallel.detector_spacing)[None, :]
    gamma = np.arcsin(np.clip(s / so, -1, 1))
    beta_needed = np.mod(theta + gamma, 2 * np.pi)
    t_needed = (so + od) * np.tan(gamma)
    points = np.stack(np.broadcast_arrays(beta_needed, t_needed), axis=-1)
    return interpolate(points).astype(np.float32)


def sirt(radon: Radon, sinogram, iters: int = 100, nonnegative: bool = False) -> np.ndarray:
    """ASTRA's SIRT (simultaneous iterative reconstruction), optionally constrained to x >= 0."""
    if iters < 1:
        raise ValueError(f"the number of iterations must be at least 1, got {iters}.")
    sinograms, batch = _as_batch(sinogram, radon)
    options = {"MinConstraint": 0.0} if nonnegative else {}
    return radon.run_algorithm("SIRT", sinograms, iters, options).reshape(*batch, *radon.domain_shape)


def cgls(radon: Radon, sinogram, iters: int = 30) -> np.ndarray:
    """ASTRA's CGLS (conjugate gradients on the normal equations), stopped early as a regulariser."""
    if iters < 1:
        raise ValueError(f"the number of iterations must be at least 1, got {iters}.")
    sinograms, batch = _as_batch(sinogram, radon)
    return radon.run_algorithm("CGLS", sinograms, iters).reshape(*batch, *radon.domain_shape)
