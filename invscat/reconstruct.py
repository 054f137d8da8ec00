"""One call from a measurement to an image: ``superres``, ``tomo`` and ``deblur`` over the task classes of
:mod:`invscat.tasks`, with their simulations.

    >>> from invscat import data, reconstruct
    >>> radon, sinogram = reconstruct.simulate_tomo(data.shepp_logan(64), views=20)
    >>> reconstruct.tomo(sinogram, radon, "fbp").image.shape
    (64, 64)
"""

from __future__ import annotations

import numpy as np

from invscat.operators.radon import Radon
from invscat.solvers.result import SolverResult
from invscat.tasks import DEFAULT_NOISE, Deblurring, SuperResolution, Tomography


def superres(low, factor: int, method: str = "tv", *, noise: float = DEFAULT_NOISE, **options) -> SolverResult:
    """Super-resolve low-resolution image(s) (..., m, n) by ``factor``: :class:`SuperResolution`'s
    ``reconstruct`` (``options``: lam relative to ||A||^2, iters, estimator, reference, device, progress,
    channel_axis)."""
    return SuperResolution(factor, noise).reconstruct(low, method, **options)


def tomo(sinogram, radon: Radon, method: str = "tv", *, noise: float = DEFAULT_NOISE, **options) -> SolverResult:
    """Reconstruct the image behind a sinogram (views, detectors) of ``radon``'s geometry:
    :class:`Tomography`'s ``reconstruct`` (options as in :func:`superres`)."""
    return Tomography.from_radon(radon, noise).reconstruct(sinogram, method, **options)


def deblur(blurred, sigma: float = 2.0, method: str = "tv", *, noise: float = DEFAULT_NOISE,
           **options) -> SolverResult:
    """Deblur image(s) blurred by a Gaussian of ``sigma`` pixels: :class:`Deblurring`'s ``reconstruct``."""
    return Deblurring(sigma, noise).reconstruct(blurred, method, **options)


def simulate_superres(truth, factor: int, noise: float = DEFAULT_NOISE, seed: int = 0):
    """(operator, low-resolution image(s)): the documented degradation (Gaussian blur of sigma factor / 2,
    decimation, Gaussian noise of ``noise`` x the range)."""
    return SuperResolution(factor, noise).simulate(truth, seed)


def simulate_tomo(truth, views: int, arc_degrees: float | None = None, geometry: str = "parallel",
                  detectors: int | None = None, noise: float = DEFAULT_NOISE, seed: int = 0):
    """(operator, sinogram + Gaussian noise of ``noise`` x its range) for a ground-truth image."""
    truth = np.asarray(truth, np.float32)
    return Tomography(views, arc_degrees, geometry, detectors, noise=noise).simulate(truth, seed)


def simulate_deblur(truth, sigma: float = 2.0, noise: float = DEFAULT_NOISE, seed: int = 0):
    """(operator, blurred image(s) + Gaussian noise of ``noise`` x the range)."""
    return Deblurring(sigma, noise).simulate(truth, seed)
