"""Seeded measurement noise: additive Gaussian, and Poisson photon counts for CT."""

from __future__ import annotations

import numpy as np

MAX_SEED = 2**32 - 1


def check_seed(seed) -> int:
    """The one rule for seeds everywhere (noise, training crops, starting points): an integer from 0 to 2**32 - 1.

    >>> check_seed(7)
    7
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"the seed (--seed) must be an integer from 0 to {MAX_SEED}, got {seed!r}.")
    return int(seed)


def gaussian_noise(y, sigma: float, seed: int | None = 0) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``sigma`` times the measurement's range (max - min).

    Parameters
    ----------
    y : array_like
        Clean measurement.
    sigma : float
        Relative noise level (>= 0); 0.01 is 1% of the range.
    seed : int, optional
        Seed of the random generator (results are reproducible for a given seed).
    """
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"the noise level must be a number >= 0, got {sigma}.")
    y = np.asarray(y, dtype=np.float32)
    if sigma == 0:
        return y.copy()
    scale = sigma * float(y.max() - y.min() or 1.0)
    noise = np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
    return y + scale * noise


def poisson_noise(sinogram, photons: float, seed: int | None = 0, attenuation_scale: float = 1.0) -> np.ndarray:
    """Simulate a CT scan with ``photons`` incident photons per ray (Beer–Lambert + Poisson counts).

    The counts are ``n ~ Poisson(I0 exp(-scale * p))`` for line integrals ``p``; the returned sinogram is the
    log-transformed measurement ``-log(max(n, 1) / I0) / scale`` (zero counts are clipped to one photon).

    Parameters
    ----------
    sinogram : array_like
        Clean line integrals (>= 0 for physical attenuation).
    photons : float
        Incident photons per ray, I0 > 0.
    seed : int, optional
        Seed of the random generator.
    attenuation_scale : float
        Multiplies the line integrals before attenuation (converts pixel units to physical ones).
    """
    if not np.isfinite(photons) or photons <= 0:
        raise ValueError(f"the incident photon count must be a positive number, got {photons}.")
    if not np.isfinite(attenuation_scale) or attenuation_scale <= 0:
        raise ValueError(f"the attenuation scale must be a positive number, got {attenuation_scale}.")
    p = np.asarray(sinogram, dtype=np.float64) * attenuation_scale
    counts = np.random.default_rng(seed).poisson(photons * np.exp(-p))
    return (-np.log(np.maximum(counts, 1) / photons) / attenuation_scale).astype(np.float32)
