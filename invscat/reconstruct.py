"""The reconstruction tasks behind ``invscat superres`` and ``invscat tomo``: one call from a measurement to an
image with any method, with defaults tuned on the training images (``benchmarks/tune_lambdas.py``).

The regularised methods solve

    min_x  0.5 ||A x - y||^2 / ||A||^2 + lam R(x)

so that ``lam`` means the same for every operator norm (number of views, image size, blur). Measurements'
noise is assumed to be about 1% of their range (``--noise 0.01``) unless stated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from invscat import data
from invscat.estimators import pretrained
from invscat.estimators.linear import LearnedFBP, LinearSuperResolution
from invscat.estimators.scattering import ScatteringEstimator
from invscat.noise import gaussian_noise
from invscat.operators.downsample import Downsample
from invscat.operators.radon import Radon
from invscat.regularizers import ScatteringRegularizer, Tikhonov, WaveletL1
from invscat.solvers import cg_tikhonov, cgls, fbp, fista, pdhg_tv, scattering_solve, sirt
from invscat.solvers.result import SolverResult

SUPERRES_METHODS = ("bicubic", "linear", "tikhonov", "tv", "l1", "scattering")
TOMO_METHODS = ("fbp", "sirt", "cgls", "linear", "tikhonov", "tv", "l1", "scattering")
TASKS = ("superres", "tomo")

# lam per (task, method), chosen by benchmarks/tune_lambdas.py as the best mean PSNR on data.TRAINING_IMAGES
# (super-resolution x4, 30-view CT; noise 0.01); the table it printed is in benchmarks/RESULTS.md.
DEFAULT_LAMBDA = {
    ("superres", "tikhonov"): 3e-2,
    ("superres", "tv"): 3e-3,
    ("superres", "l1"): 1e-2,
    ("tomo", "tikhonov"): 1e-2,
    ("tomo", "tv"): 1e-3,
    ("tomo", "l1"): 3e-3,
    # for estimators without a tuned weight of their own (the shipped ones carry theirs: tune_lambdas --scattering)
    ("superres", "scattering"): 1e-4,
    ("tomo", "scattering"): 1e-4,
}
DEFAULT_ITERS = {"tikhonov": 100, "tv": 300, "l1": 200, "sirt": 100, "cgls": 30, "scattering": 100}
DEFAULT_NOISE = 0.01


def _check(method: str, methods, lam, iters):
    if method not in methods:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(methods)}.")
    if lam is not None and not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"the regularisation weight must be a number >= 0, got {lam}.")
    if iters is not None and (isinstance(iters, bool) or int(iters) != iters or iters < 1):
        raise ValueError(f"the number of iterations must be an integer >= 1, got {iters}.")


def _variational(task, A, y, method, lam, iters, *, nonnegative=False, **options) -> SolverResult:
    """Solve the regularised problem with the method's solver; lam is relative to ||A||^2 (module docstring)."""
    lam = DEFAULT_LAMBDA[task, method] if lam is None else lam
    iters = DEFAULT_ITERS[method] if iters is None else int(iters)
    weight = lam * A.norm() ** 2
    if method == "tikhonov":
        result = cg_tikhonov(A, y, weight, regularizer=Tikhonov("gradient"), iters=iters, **options)
    elif method == "tv":
        result = pdhg_tv(A, y, weight, iters=iters, nonnegative=nonnegative, **options)
    else:
        result = fista(A, y, WaveletL1("db4", levels=3), weight, iters=iters, **options)
    if isinstance(result.image, torch.Tensor):  # solved on a device; the task API returns numpy
        result.image = result.image.cpu().numpy()
    result.lam = lam
    return result


@dataclass(frozen=True)
class Task:
    """A reconstruction task: super-resolution by ``factor``, or CT with ``views`` over ``arc`` degrees.

    ``size`` is the side of the (square) training crops; for CT it is also the image size the estimator is
    for, since the artefacts depend on the geometry relative to the image.
    """

    kind: str
    size: int = 128
    noise: float = DEFAULT_NOISE
    factor: int = 4
    views: int = 30
    arc: float | None = None
    geometry: str = "parallel"
    detectors: int | None = None

    def __post_init__(self):
        if self.kind not in TASKS:
            raise ValueError(f"unknown task {self.kind!r}; expected one of {', '.join(TASKS)}.")
        if isinstance(self.factor, bool) or int(self.factor) != self.factor or self.factor < 1:
            raise ValueError(f"the super-resolution factor must be an integer >= 1, got {self.factor}.")
        if self.kind == "superres" and self.size % self.factor:
            raise ValueError(f"the training crop size {self.size} must be a multiple of the factor {self.factor}.")

    def operator(self):
        if self.kind == "superres":
            return superres_operator((self.size, self.size), self.factor)
        return tomo_operator((self.size, self.size), self.views, self.arc, self.geometry, self.detectors)

    def measure(self, images: np.ndarray, seed: int) -> np.ndarray:
        """Simulated measurements of images (B, size, size), each with its own seeded noise."""
        return _noisy(self.operator()(images), self.noise, seed)

    def first_reconstruction(self, measurements: np.ndarray) -> np.ndarray:
        """The TV reconstructions the estimator takes as input (batched)."""
        if self.kind == "superres":
            return superres(measurements, self.factor, "tv").image
        return tomo(measurements, self.operator(), "tv").image

    def metadata(self) -> dict:
        """What an estimator for this task records: :meth:`checked_metadata` plus the noise level."""
        return {**self.checked_metadata(), "noise": float(self.noise)}

    def checked_metadata(self) -> dict:
        """What must match between an estimator and the task it is used for. A super-resolution estimator is
        convolutional in the scattering domain, so it serves any image size; a CT one is tied to the geometry."""
        if self.kind == "superres":
            return {"task": "superres", "factor": int(self.factor)}
        radon = self.operator()
        return {"task": "tomo", "size": int(self.size), "views": int(self.views), "arc": _arc_degrees(radon),
                "geometry": self.geometry, "detectors": int(radon.range_shape[1])}

    @classmethod
    def from_radon(cls, radon: Radon, noise: float = DEFAULT_NOISE) -> "Task":
        """The CT task of an acquisition geometry (views evenly spread, as :func:`tomo_operator` makes them)."""
        M, N = radon.domain_shape
        if M != N:
            raise ValueError(f"the scattering method is fitted on square images; got {M}x{N}.")
        return cls("tomo", size=M, noise=noise, views=radon.range_shape[0], arc=_arc_degrees(radon),
                   geometry=radon.geometry, detectors=radon.range_shape[1])


def _arc_degrees(radon: Radon) -> float:
    """The angular range covered by evenly spread views: views x the angle step."""
    angles = np.asarray(radon.angles, np.float64)
    step = angles[1] - angles[0] if angles.size > 1 else np.pi
    return round(float(np.rad2deg(step) * angles.size), 4)


def scattering_weights(kind: str, estimator: ScatteringEstimator) -> tuple[float, float]:
    """(lam, mu) of ``method='scattering'``, relative to ||A||^2: those tuned for the estimator and saved with it
    (``benchmarks/tune_lambdas.py --scattering --store``), else the task's defaults."""
    lam = estimator.lam if estimator.lam is not None else DEFAULT_LAMBDA[kind, "scattering"]
    mu = estimator.tv_weight if estimator.tv_weight is not None else DEFAULT_LAMBDA[kind, "tv"]
    return lam, mu


def _scattering(task: "Task", A, y, estimator, lam, iters, nonnegative: bool, **options) -> SolverResult:
    """TV first, then the scattering-prior objective from it (:func:`invscat.solvers.scattering_solve`)."""
    if estimator is None:
        estimator = pretrained.load(task)
    elif isinstance(estimator, ScatteringEstimator):
        estimator.check(strict=False, **task.checked_metadata())
    else:
        estimator = ScatteringEstimator.load(estimator, **task.checked_metadata())
    default_lam, mu = scattering_weights(task.kind, estimator)
    lam = default_lam if lam is None else lam
    iters = DEFAULT_ITERS["scattering"] if iters is None else int(iters)
    norm2 = A.norm() ** 2
    start = torch.as_tensor(_variational(task.kind, A, y, "tv", None, None, nonnegative=nonnegative).image)
    if isinstance(y, torch.Tensor):
        start = start.to(y.device)
    regularizer = ScatteringRegularizer.from_estimator(estimator, start)
    result = scattering_solve(A, y, regularizer, lam * norm2, start, mu=mu * norm2,
                              iters=iters, nonnegative=nonnegative, **options)
    if isinstance(result.image, torch.Tensor):
        result.image = result.image.cpu().numpy()
    result.lam = lam
    return result


def _noisy(measurements, noise: float, seed: int) -> np.ndarray:
    """Each measurement with its own seeded noise, relative to its own range (as the CLI's --simulate)."""
    return np.stack([gaussian_noise(m, noise, seed + k) for k, m in enumerate(measurements)])


def _timed(result: SolverResult, start: float) -> SolverResult:
    """The result with its time counted from ``start`` (so that it includes the first reconstruction)."""
    result.time_s = time.perf_counter() - start
    return result


def _direct(image, method: str, start: float) -> SolverResult:
    image = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, np.float32)
    return SolverResult(image=image.astype(np.float32), iterations=0, time_s=time.perf_counter() - start,
                        method=method)


def bicubic(low, factor: int) -> np.ndarray:
    """Bicubic interpolation (Keys, a = -0.75 as torch) on the decimation grid of :class:`Downsample`: each low-resolution
    pixel sits at the centre of the f x f block it averages."""
    t = torch.as_tensor(np.asarray(low, np.float32))
    batch = t.shape[:-2]
    up = F.interpolate(t.reshape(-1, 1, *t.shape[-2:]), scale_factor=factor, mode="bicubic", align_corners=False)
    return up.reshape(*batch, *up.shape[-2:]).numpy()


def superres_operator(shape, factor: int) -> Downsample:
    """The documented super-resolution forward model: Gaussian blur of sigma = factor / 2, then decimation."""
    return Downsample(shape, factor)


def simulate_superres(truth, factor: int, noise: float = DEFAULT_NOISE, seed: int = 0):
    """The documented degradation: (operator, Downsample(truth) + Gaussian noise of ``noise`` x its range)."""
    A = superres_operator(np.shape(truth)[-2:], factor)
    return A, _noisy(A(np.asarray(truth, np.float32).reshape(-1, *A.domain_shape)), noise, seed).reshape(
        *np.shape(truth)[:-2], *A.range_shape)


def superres(low, factor: int, method: str = "tv", *, lam: float | None = None, iters: int | None = None,
             noise: float = DEFAULT_NOISE, estimator=None, reference=None, device=None, progress: bool = False,
             seed: int = 0) -> SolverResult:
    """Super-resolve a low-resolution image by ``factor``.

    Parameters
    ----------
    low : array_like
        Low-resolution image(s), (m, n) or (C, m, n) (colour channels are solved together, each independently).
    factor : int
        Upsampling factor; the result is (f m, f n).
    method : {'bicubic', 'linear', 'tikhonov', 'tv', 'l1', 'scattering'}
        Bicubic interpolation; the best linear estimator (per-phase filters fitted on the training images
        degraded like the input); gradient-Tikhonov (CG); isotropic TV (Chambolle-Pock); l1 on db4 wavelets
        (FISTA); 'scattering': TV, then TV plus the scattering prior whose target a scattering-domain
        estimator predicts from the TV image (L-BFGS; :func:`invscat.solvers.scattering_solve`).
    lam : float, optional
        Regularisation weight relative to ||A||^2; default from ``DEFAULT_LAMBDA``.
    iters : int, optional
        Solver iterations; default from ``DEFAULT_ITERS``.
    noise : float
        The noise level assumed when fitting the linear estimator.
    estimator : ScatteringEstimator or path, optional
        For 'scattering': the estimator (default: the one shipped for this factor).
    reference : array_like, optional
        Ground truth for the PSNR history.
    device : torch.device, optional
        Where the iterative solvers run.
    progress : bool
        Show a progress bar on a terminal.
    seed : int
        Seed of the noise added to the training images for 'linear'.

    Returns
    -------
    SolverResult
    """
    _check(method, SUPERRES_METHODS, lam, iters)
    low = np.asarray(low, np.float32)
    if isinstance(factor, bool) or int(factor) != factor or factor < 1:
        raise ValueError(f"the super-resolution factor must be an integer >= 1, got {factor}.")
    factor = int(factor)
    shape = (low.shape[-2] * factor, low.shape[-1] * factor)
    start = time.perf_counter()
    if method == "bicubic":
        return _direct(bicubic(low, factor), method, start)
    A = superres_operator(shape, factor)
    if method == "linear":
        truth = data.training_set(shape)
        estimator = LinearSuperResolution(factor).fit(_noisy(A(truth), noise, seed), truth)
        return _direct(estimator.predict(low), method, start)
    y = torch.from_numpy(low).to(device) if device is not None else low
    if method == "scattering":
        return _timed(_scattering(Task("superres", factor=factor, noise=noise), A, y, estimator, lam, iters,
                                  nonnegative=False, reference=reference, progress=progress), start)
    return _variational("superres", A, y, method, lam, iters, reference=reference, progress=progress)


def tomo_operator(shape, views: int, arc_degrees: float | None = None, geometry: str = "parallel",
                  detectors: int | None = None) -> Radon:
    """``views`` angles evenly spread over ``arc_degrees`` (default 180 for parallel beam, 360 for fan beam)."""
    if isinstance(views, bool) or int(views) != views or views < 1:
        raise ValueError(f"the number of views must be an integer >= 1, got {views}.")
    full = 180.0 if geometry == "parallel" else 360.0
    arc = full if arc_degrees is None else float(arc_degrees)
    if not np.isfinite(arc) or arc <= 0 or arc > 360:
        raise ValueError(f"the angular arc must be in (0, 360] degrees, got {arc_degrees}.")
    angles = np.deg2rad(np.arange(int(views)) * arc / int(views))
    return Radon(shape, angles, detectors=detectors, geometry=geometry)


def simulate_tomo(truth, views: int, arc_degrees: float | None = None, geometry: str = "parallel",
                  detectors: int | None = None, noise: float = DEFAULT_NOISE, seed: int = 0):
    """(operator, sinogram + Gaussian noise of ``noise`` x its range) for a ground-truth image."""
    radon = tomo_operator(np.shape(truth), views, arc_degrees, geometry, detectors)
    return radon, _noisy(radon(np.asarray(truth, np.float32))[None], noise, seed)[0]


def tomo(sinogram, radon: Radon, method: str = "tv", *, lam: float | None = None, iters: int | None = None,
         noise: float = DEFAULT_NOISE, estimator=None, reference=None, device=None, progress: bool = False,
         seed: int = 0) -> SolverResult:
    """Reconstruct an image from a sinogram.

    Parameters
    ----------
    sinogram : array_like
        (views, detectors), as ``radon.range_shape``.
    radon : Radon
        The acquisition geometry.
    method : {'fbp', 'sirt', 'cgls', 'linear', 'tikhonov', 'tv', 'l1', 'scattering'}
        FBP (Hann-apodised ramp); SIRT with x >= 0; CGLS stopped early; a learned FBP filter (fitted on the
        training images and phantoms, :class:`LearnedFBP`); gradient-Tikhonov; TV with x >= 0
        (Chambolle-Pock); l1 on db4 wavelets (FISTA); TV followed by the scattering prior (see
        :func:`superres`; the shipped estimators cover 30 views over 180 degrees and 90 views over 120
        degrees, parallel beam, 128x128).
    lam, iters, noise, estimator, reference, device, progress, seed
        As in :func:`superres`; ``iters`` also sets SIRT's and CGLS's iteration counts.

    Returns
    -------
    SolverResult
    """
    _check(method, TOMO_METHODS, lam, iters)
    sinogram = np.asarray(sinogram, np.float32)
    start = time.perf_counter()
    if method == "fbp":
        return _direct(fbp(radon, sinogram, "hann"), method, start)
    if method in ("sirt", "cgls"):
        count = DEFAULT_ITERS[method] if iters is None else int(iters)
        image = sirt(radon, sinogram, count, nonnegative=True) if method == "sirt" else cgls(radon, sinogram, count)
        result = _direct(image, method, start)
        result.iterations = count
        return result
    if method == "linear":
        truth = data.training_set(radon.domain_shape, phantoms=10)
        estimator = LearnedFBP(radon).fit(_noisy(radon(truth), noise, seed), truth)
        return _direct(estimator.predict(sinogram), method, start)
    y = torch.from_numpy(sinogram).to(device) if device is not None else sinogram
    if method == "scattering":
        return _timed(_scattering(Task.from_radon(radon, noise), radon, y, estimator, lam, iters, nonnegative=True,
                                  reference=reference, progress=progress), start)
    return _variational("tomo", radon, y, method, lam, iters, nonnegative=True, reference=reference,
                        progress=progress)

