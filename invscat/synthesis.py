"""Scattering inversion and texture synthesis by gradient descent (Bruna & Mallat 2019, "Multiscale sparse
microcanonical models"): find x whose scattering coefficients match a target, starting from white noise.

- :func:`invert` matches all coefficients S x (spatially localised at 2^J): reconstruction from the transform.
- :func:`synthesize` matches their spatial averages only (a microcanonical texture model).
"""

from __future__ import annotations

import numpy as np
import torch

from invscat.checks import check_count
from invscat.device import check_memory
from invscat.noise import check_seed

from invscat.scattering import Scattering2D
from invscat.solvers.gradient import minimize
from invscat.solvers.result import SolverResult


# Synthesis starts from white noise with the example's mean and INIT_STD times its standard deviation: less
# high-frequency power to remove than a full-variance start (measured: the top-octave power excess of a
# synthesised Gaussian field fell from 2.0x to 1.6x of the example's).
INIT_STD = 0.1


# Working memory of one start per pixel, in float32 values (the transform's intermediates and their gradients).
WORKING_VALUES = 256


def _start(shape, mean: float, std: float, seed: int, count: int, device, dtype) -> torch.Tensor:
    generator = torch.Generator().manual_seed(check_seed(seed))
    noise = torch.randn(count, *shape, generator=generator, dtype=torch.float64)
    return (mean + std * noise).to(device=device, dtype=dtype)


# Adam's step for inversion and synthesis, decayed to 0 by a cosine over the iterations. Measured on 64x64, J=6,
# 1000 iterations: a step of 0.1 recovered a sinusoid to 35.3 dB and an edge to 25.0 dB (30.8 dB with 2000),
# where 0.01 gave 34.2 and 18.4 dB and 0.003 gave 12.2 and 14.2 dB; 0.3 was worse again (20.9 dB on the edge).
ADAM_STEP = 0.1


def _solve(transform: Scattering2D, target: torch.Tensor, reduce, x0, *, method: str, iters: int, tol: float,
           progress: bool, callback, name: str) -> SolverResult:
    """Minimise ||reduce(S x) - target||^2 / ||target||^2 and record the relative coefficient error."""
    scale = torch.sum(target * target).clamp_min(1e-30)
    # L-BFGS skips curvature pairs with s.y < 1e-10 (an absolute threshold in torch); multiplying the relative
    # error by the pixel count keeps the per-pixel gradients of order one so that its memory is used.
    weight = float(x0.numel())

    def objective(x):
        return weight * torch.sum((reduce(transform(x)) - target) ** 2) / scale

    def relative_error(x):
        return torch.sqrt(objective(x) / weight).item()

    options = {"lr": ADAM_STEP, "schedule": "cosine"} if method == "adam" else {}
    result = minimize(objective, x0, method=method, iters=iters, tol=tol, residual=relative_error, progress=progress,
                      callback=callback, name=name, **options)
    result.image = result.image.detach()
    return result


def invert(coefficients, transform: Scattering2D, *, x0=None, method: str = "adam", iters: int = 500,
           restarts: int = 1, tol: float = 1e-9, seed: int = 0, progress: bool = False, callback=None) -> SolverResult:
    """Reconstruct an image from its scattering coefficients.

    Parameters
    ----------
    coefficients : array_like or torch.Tensor
        Target S x, shape (C, M / 2^J, N / 2^J) as ``transform`` produces.
    transform : Scattering2D
        The transform that produced them (its device is where the descent runs).
    x0 : array_like, optional
        Starting image; default white noise with the mean of the order-0 coefficients.
    method : {'adam', 'lbfgs'}
        Optimiser. Adam (step ``ADAM_STEP`` with a cosine decay) is the default: the scattering loss is badly scaled (nearly flat along the
        gradient over steps of 10 and more from a noise start) and torch's L-BFGS with a strong-Wolfe line
        search stalls on it, where Adam's per-pixel normalised steps keep descending.
    iters : int
        Maximum iterations.
    restarts : int
        Descend from this many white-noise starts at once (one batch; with Adam each runs exactly as it would
        alone) and keep the image with the lowest coefficient error. The loss is not convex: an edge, for one,
        is recovered from some starts and not from others.
    tol : float
        Stop when the relative change of x falls below ``tol``.
    seed : int
        Seed of the starting noise.
    progress, callback
        As in :func:`invscat.solvers.minimize`.

    Returns
    -------
    SolverResult
        ``image`` is a tensor on the transform's device; ``residual`` holds the relative coefficient error
        ||S x - target|| / ||target|| per iteration (with restarts, the root mean square over the starts; the
        final entry is the kept image's).
    """
    device, dtype = transform.psi_0_0.device, torch.float32
    target = torch.as_tensor(np.asarray(coefficients) if not isinstance(coefficients, torch.Tensor) else coefficients)
    target = target.to(device=device, dtype=dtype)
    expected = (transform.n_channels, transform.shape[0] // 2 ** transform.J, transform.shape[1] // 2 ** transform.J)
    if tuple(target.shape) != expected:
        raise ValueError(f"the coefficients have shape {tuple(target.shape)} but this transform gives {expected}.")
    if not torch.isfinite(target).all():
        raise ValueError("the coefficients contain NaN or infinite values.")
    restarts = check_count("number of restarts", restarts)
    check_memory(4 * WORKING_VALUES * restarts * transform.shape[0] * transform.shape[1],
                 f"inverting with {restarts} restarts", target.device)
    if x0 is not None and restarts > 1:
        raise ValueError("restarts need random starts; pass x0 or restarts, not both.")
    if x0 is None:
        start = _start(transform.shape, target[0].mean().item(), 0.1, seed, int(restarts), device, dtype)
    else:
        start = torch.as_tensor(np.asarray(x0, np.float32)).to(device)[None]
    count = start.shape[0]
    # the starts are independent: their objective is the sum of theirs, normalised as one start's
    result = _solve(transform, target.expand(count, *target.shape), lambda s: s, start, method=method, iters=iters,
                    tol=tol, progress=progress, callback=callback, name=f"invert-{method}")
    with torch.no_grad():
        errors = torch.linalg.vector_norm((transform(result.image) - target).flatten(1), dim=1)
    best = int(torch.argmin(errors))
    result.image = result.image[best]
    if result.residual:
        result.residual[-1] = (errors[best] / torch.linalg.vector_norm(target)).item()
    return result


def averaged_moments(transform: Scattering2D, x: torch.Tensor) -> torch.Tensor:
    """Spatial averages of the scattering coefficients: (..., M, N) -> (..., C)."""
    return transform(x).mean(dim=(-2, -1))


def synthesize(texture, size: int | None = None, *, J: int = 4, L: int = 8, padding: str = "periodic",
               count: int = 1, method: str = "adam", iters: int = 500, tol: float = 1e-9, seed: int = 0,
               device=None, progress: bool = False, callback=None) -> SolverResult:
    """Synthesise textures whose averaged scattering moments (orders 0-2) match those of ``texture``.

    Parameters
    ----------
    texture : array_like
        Example texture, 2-D (its side must be a multiple of 2^J for periodic padding).
    size : int, optional
        Side of the square outputs (default: the example's shape).
    J, L, padding
        Scattering parameters.
    count : int
        Number of independent samples (solved as one batch, each from its own noise).
    method, iters, tol, seed, progress, callback
        As in :func:`invert`.
    device : torch.device, optional
        Where to compute.

    Returns
    -------
    SolverResult
        ``image`` has shape (count, size, size); ``residual`` is the relative error of the averaged moments.
    """
    example = np.asarray(texture, np.float32)
    if example.ndim != 2:
        raise ValueError(f"the texture must be a 2-D image, got shape {example.shape}.")
    count = check_count("number of samples", count)
    device = torch.device(device) if device is not None else torch.device("cpu")
    shape = example.shape if size is None else (int(size), int(size))
    source = Scattering2D(J, example.shape, L=L, padding=padding).to(device)
    target = averaged_moments(source, torch.from_numpy(example).to(device))
    transform = source if shape == example.shape else Scattering2D(J, shape, L=L, padding=padding).to(device)
    start = _start(shape, float(example.mean()), INIT_STD * float(example.std()), seed, count, device, torch.float32)
    # every sample matches the same moments: the batch objective is the sum over samples
    result = _solve(transform, target.expand(count, -1), lambda s: s.mean(dim=(-2, -1)), start, method=method,
                    iters=iters, tol=tol, progress=progress, callback=callback, name=f"synth-{method}")
    return result
