"""Tomography baselines through ASTRA (run by :meth:`Radon.run_algorithm`, which owns the ASTRA objects):
filtered backprojection (parallel and fan beam), SIRT and CGLS."""

from __future__ import annotations

import numpy as np
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

    Parallel beam uses ASTRA's FBP. Fan beam (ASTRA's CPU FBP is parallel-only) rebins the fan-beam
    sinogram onto parallel rays by bilinear interpolation (Kak & Slaney 1988, section 3.4.3), then runs
    the parallel FBP; it needs the fan views to cover 360 degrees for a complete parallel sinogram.

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
    """
    if window not in FBP_FILTERS:
        raise ValueError(f"unknown FBP filter {window!r}; expected one of {', '.join(FBP_FILTERS)}.")
    sinograms, batch = _as_batch(sinogram, radon)
    options = {"FilterType": window}
    if radon.geometry == "parallel":
        out = radon.run_algorithm("FBP", sinograms, options=options)
    else:
        parallel = parallel_equivalent(radon)
        rebinned = np.stack([rebin_fan_to_parallel(radon, parallel, s) for s in sinograms])
        out = parallel.run_algorithm("FBP", rebinned, options=options)
    return out.reshape(*batch, *radon.domain_shape)


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
