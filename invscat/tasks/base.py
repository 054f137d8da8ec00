"""What a reconstruction task is: a forward-model family that owns its operator, simulation, methods, tuned weights
and the metadata of the scattering estimators fitted for it.

Every regularised method solves

    min_x  0.5 ||A x - y||^2 + lam_abs R(x),    lam_abs = lam ||A||^2,

where ``lam``, the weight the tables, ``--lam`` and :attr:`Task.relative_lam` hold, is *relative to* ||A||^2, so
that one value fits any number of views, image size or blur; the solvers take ``lam_abs``.
"""

from __future__ import annotations

import functools
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
import torch

from invscat.checks import check_count
from invscat.device import check_memory
from invscat.noise import check_seed, gaussian_noise
from invscat.operators.base import LinearOperator
from invscat.regularizers import ScatteringRegularizer, Tikhonov, TotalVariation, WaveletL1
from invscat.solvers import cg, fista, gradient_descent, pdhg
from invscat.solvers.result import SolverResult

DEFAULT_NOISE = 0.01
# Working memory per image pixel, in float32 values, measured roughly on the 2-core machine (peak resident set /
# pixels): the regularised solvers keep about a dozen images (iterates, dual fields, A x), the scattering method
# the transform's intermediates as well (the 400x600 RGB coffee photo at x4: 1.7 GB).
WORKING_VALUES = {"direct": 8, "variational": 24, "scattering": 64}
# The scattering method's L-BFGS iterations, per task (Task.scattering_iters): 40 for super-resolution and
# deblurring (PSNR within 0.02 dB of 100 iterations on the training images), 100 for full-arc CT (with the
# convolutional estimators, validation images: +0.09 dB from 40 to 100 at 30 views, +0.02 more by 200), 200 for
# limited-angle CT (90 views over 120 degrees, training images: +0.33 dB from 40 to 100, +0.06 from 100 to 200,
# where the tolerance stops most images; 0.001 dB more by 300).
DEFAULT_ITERS = {"tikhonov": 100, "tv": 300, "l1": 200, "sirt": 100, "cgls": 30, "scattering": 40}
FULL_ARC_ITERS = 100
LIMITED_ANGLE_ITERS = 200
ORACLE_ITERS = 100
# The scattering method runs tile by tile on images of more pixels than this when the forward model is local
# (Task.tile_margin): its working memory is then bounded by a tile's, whatever the photo's size.
TILE_PIXELS = 512 * 512
# The smoothing of TV in the scattering method's joint objective.
SCATTERING_TV_EPS = 1e-3

# Regularised methods: the solver, the regulariser, and whether the task's x >= 0 constraint is applied (as the
# weights were tuned: TV constrained, Tikhonov (CG, unconstrained by nature) and l1 not).
VARIATIONAL: dict[str, tuple[Callable, Callable[[], object], bool]] = {
    "tikhonov": (cg, lambda: Tikhonov("gradient"), False),
    "tv": (pdhg, TotalVariation, True),
    "l1": (fista, lambda: WaveletL1("db4", levels=3), False),
}


@dataclass
class Run:
    """One image through :meth:`Task.run`: the simulated ground truth (or None), the measurement, the result."""

    truth: np.ndarray | None
    measurement: np.ndarray
    result: SolverResult


# RGB -> (Y, Cb, Cr) of ITU-R BT.601, without the offsets (the models are linear and keep constants)
YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
COLOUR_MODES = ("auto", "vectorial", "ycbcr", "channels")


def noisy(measurements, noise: float, seed: int) -> np.ndarray:
    """Each measurement of a batch with its own seeded Gaussian noise of ``noise`` x its own range."""
    return np.stack([gaussian_noise(m, noise, seed + k) for k, m in enumerate(measurements)])


class Task(ABC):
    """A forward-model family. Subclasses are frozen dataclasses (hashable: operators are cached per task and
    shape) that define:

    - ``name`` and ``relative_lam`` (method -> weight relative to ||A||^2, tuned on the training images);
    - :meth:`operator` (the forward model for an image shape) and :meth:`image_shape` (the image shape a
      measurement shape comes from);
    - :meth:`metadata` (what an estimator fitted for the task records and must match), :meth:`fit_options`;
    - optionally :meth:`direct_methods` (non-variational methods: interpolation, FBP, learned filters) and
      ``nonnegative`` (constrain the images to x >= 0).

    The regularised methods (:data:`VARIATIONAL`) and ``'scattering'`` come with the base class.
    """

    name: ClassVar[str]
    relative_lam: ClassVar[dict]
    nonnegative: ClassVar[bool] = False
    baseline: ClassVar[str | None] = None  # the classical method figures show beside a result
    noise: float

    # -- what a family defines --------------------------------------------------------------------------

    @abstractmethod
    def _make_operator(self, shape) -> LinearOperator:
        """The forward operator for images of ``shape`` (called once per shape, see :meth:`operator`)."""

    @abstractmethod
    def image_shape(self, measurement_shape) -> tuple[int, int]:
        """The image shape behind a measurement of ``measurement_shape`` (its last two axes)."""

    @abstractmethod
    def metadata(self) -> dict:
        """What a scattering estimator fitted for this task records, and must match to be used for it."""

    @abstractmethod
    def fit_options(self) -> str:
        """The ``invscat fit`` command line that fits an estimator for this task."""

    def sized(self, image_shape) -> "Task":
        """This task for images of ``image_shape``: the task itself, or, for a family whose estimators depend on
        the image size (CT), the same task with that size fixed."""
        return self

    def direct_methods(self) -> dict[str, Callable]:
        """Non-variational methods: name -> ``function(y, iters) -> image`` (numpy)."""
        return {}

    def support(self, shape) -> np.ndarray | None:
        """Where the image can be non-zero (a 0/1 mask of ``shape``; reconstructions are zero elsewhere), or None
        for everywhere."""
        return None

    def prepare_truth(self, truth: np.ndarray) -> np.ndarray:
        """The part of a ground truth image the forward model can take (e.g. cropped to a multiple of the
        decimation factor)."""
        return truth

    @property
    def training_size(self) -> int:
        """Side of the square training crops of an estimator for this task."""
        return 128

    training_phantoms: ClassVar[float] = 0.0  # phantoms added to the training crops, as a fraction of them
    # Image pixels of margin around each tile of a tiled reconstruction (see TILE_PIXELS), or None when the forward
    # model is not local (CT: every view sees the whole image) and images are never tiled.
    tile_margin: ClassVar[int | None] = None
    scattering_iters: ClassVar[int] = DEFAULT_ITERS["scattering"]  # L-BFGS iterations of the scattering method

    @property
    def tv_tolerance(self) -> float:
        """TV (PDHG) stops when an iteration changes the image by less than this, relatively (at most
        ``DEFAULT_ITERS['tv']`` iterations). 2e-4 stopped after 110-220 iterations on the training images with the
        300-iteration PSNR unchanged (within 0.01 dB on CT, 0.03-0.09 dB higher in super-resolution and
        deblurring); limited-angle CT needs 1e-4 (:class:`~invscat.tasks.Tomography`)."""
        return 2e-4

    # -- what every task does ---------------------------------------------------------------------------

    @property
    def methods(self) -> tuple[str, ...]:
        return (*self.direct_methods(), *VARIATIONAL, "scattering")

    def operator(self, shape) -> LinearOperator:
        """The forward operator for images of ``shape``, built once per task and shape (its norm is cached)."""
        return _cached_operator(self, tuple(int(s) for s in shape))

    def simulate(self, truth, seed: int = 0):
        """(operator, measurement): ``truth`` (..., M, N) degraded by the forward model with seeded Gaussian
        noise of ``noise`` x each measurement's range."""
        check_seed(seed)
        truth = np.asarray(truth, np.float32)
        if truth.ndim < 2 or min(truth.shape[-2:]) < 1:
            raise ValueError(f"the ground truth must be an image (..., M, N), got shape {truth.shape}.")
        A = self.operator(truth.shape[-2:])
        y = noisy(A(truth.reshape(-1, *A.domain_shape)), self.noise, seed)
        return A, y.reshape(*truth.shape[:-2], *A.range_shape)

    def measure(self, images, seed: int) -> np.ndarray:
        """Simulated measurements of a batch of images (B, M, N), each with its own seeded noise."""
        return self.simulate(images, seed)[1]

    def first_reconstruction(self, measurements) -> np.ndarray:
        """The TV reconstruction a scattering estimator takes as its input (batched)."""
        return self.reconstruct(measurements, "tv").image

    def estimator_filename(self) -> str:
        """Name of the file of the estimator shipped for this task (:mod:`invscat.estimators.pretrained`)."""
        parts = [f"{value:g}{key}" if isinstance(value, float) else f"{value}{key}"
                 for key, value in self.metadata().items() if key != "task"]
        return "_".join([self.name, *parts]) + ".pt"

    def family_metadata(self) -> dict | None:
        """What an estimator fitted across a family of settings (CT: any number of views, arc and image size)
        must match to serve this task, or None when the task has no such family."""
        return None

    def family_filename(self) -> str | None:
        """Name of the shipped file of the family estimator (used when no estimator ships for the exact setting)."""
        family = self.family_metadata()
        return None if family is None else "_".join(str(v) for v in family.values()) + "_any.pt"

    def load_estimator(self, estimator=None):
        """The scattering estimator for this task: ``estimator`` (an object or a path) checked against
        :meth:`metadata` (against :meth:`family_metadata` if it was fitted across a family), or the shipped one
        (None: the best that ships, :func:`invscat.estimators.pretrained.candidates`; 'ridge' or 'convolutional':
        the shipped one of that kind)."""
        from invscat.estimators import pretrained
        from invscat.estimators.scattering import ScatteringEstimator

        if estimator is None or estimator in pretrained.KINDS:
            return pretrained.load(self, estimator)
        given = isinstance(estimator, ScatteringEstimator)
        name = "the estimator" if given else str(estimator)
        estimator = estimator if given else ScatteringEstimator.load(estimator)
        expected = self.family_metadata() if estimator.metadata.get("family") else None
        estimator.check(name, strict=not given, **(expected or self.metadata()))
        return estimator

    def scattering_weights(self, estimator) -> tuple[float, float]:
        """(lam, mu) of the scattering method relative to ||A||^2: the weights tuned for the estimator and saved
        with it (``benchmarks/tune_lambdas.py --scattering --store``), else the task's defaults."""
        lam = estimator.lam if estimator.lam is not None else self.relative_lam["scattering"]
        mu = estimator.tv_weight if estimator.tv_weight is not None else self.relative_lam["tv"]
        return lam, mu

    def reconstruct(self, y, method: str = "tv", *, lam: float | None = None, iters: int | None = None,
                    estimator=None, reference=None, device=None, progress: bool = False,
                    channel_axis: int | None = None, colour: str = "auto", _vectorial: bool = False,
                    _whole: bool = False) -> SolverResult:
        """Reconstruct the image(s) behind measurement(s) ``y`` with ``method``.

        Parameters
        ----------
        y : array_like or torch.Tensor
            Measurement(s), (..., m, n); a batch is solved jointly, each image independently.
        method : str
            One of :attr:`methods`.
        lam : float, optional
            Regularisation weight relative to ||A||^2 (default: :attr:`relative_lam`, or the estimator's).
        iters : int, optional
            Solver iterations (default per method).
        estimator : ScatteringEstimator, path or {'convolutional', 'ridge'}, optional
            For 'scattering': the estimator (default: the best shipped for the task; a kind: the shipped one of
            that kind).
        reference : array_like, optional
            Ground truth for the PSNR history.
        device : torch.device, optional
            Where the iterative solvers run.
        progress : bool
            Show a progress bar on a terminal.
        channel_axis : int, optional
            The axis of ``y`` that holds RGB colour channels; the result keeps it in place.
        colour : {'auto', 'vectorial', 'ycbcr', 'channels'}
            How colour is reconstructed: 'vectorial', TV coupling the channels (one edge set for all three);
            'ycbcr', luminance by ``method`` and chroma by the task's baseline (bicubic) or Tikhonov, a third of
            the work; 'channels', each channel on its own. 'auto' (default): vectorial for TV, channels otherwise,
            as measured on the colour training images (``benchmarks/colour.py``: vectorial TV +0.13 dB over
            channels in x4 super-resolution with less chroma error, within 0.1 dB in deblurring with the least).

        Returns
        -------
        SolverResult
            ``image`` is numpy; ``lam`` the relative weight used; ``time_s`` includes any first reconstruction.
        """
        if channel_axis is not None:
            y = np.moveaxis(np.asarray(y, np.float32), channel_axis, 0)
            if y.shape[0] != 3:
                raise ValueError(f"colour images have 3 channels (RGB), got {y.shape[0]}.")
            reference = None if reference is None else np.moveaxis(reference, channel_axis, 0)
            options = dict(lam=lam, iters=iters, estimator=estimator, device=device, progress=progress)
            if colour not in COLOUR_MODES:
                raise ValueError(f"unknown colour mode {colour!r}; expected one of {', '.join(COLOUR_MODES)}.")
            if colour == "auto":
                colour = "vectorial" if method == "tv" else "channels"
            if colour == "ycbcr":
                result = self._ycbcr(y, method, **options)
            else:
                if colour == "vectorial" and method != "tv":
                    raise ValueError(f"vectorial colour is a TV coupling the channels; with {method}, use the ycbcr "
                                     "or channels colour mode.")
                result = self.reconstruct(y, method, reference=reference, _vectorial=colour == "vectorial",
                                          **options)
            result.image = np.moveaxis(result.image, 0, channel_axis)
            return result
        if method not in self.methods:
            raise ValueError(f"unknown method {method!r} for {self.name}; expected one of {', '.join(self.methods)}.")
        if lam is not None and not (np.isfinite(lam) and lam >= 0):
            raise ValueError(f"the regularisation weight must be a number >= 0, got {lam}.")
        default = self.scattering_iters if method == "scattering" else DEFAULT_ITERS.get(method)
        iters = default if iters is None else check_count("number of iterations", iters)
        y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y
        y = np.asarray(y, np.float32)
        if y.ndim < 2:
            raise ValueError(f"the measurement must have at least two dimensions (..., m, n), got shape {y.shape}.")
        if not np.isfinite(y).all():
            raise ValueError("the measurement contains NaN or infinite values.")
        start = time.perf_counter()
        shape = self.image_shape(y.shape[-2:])
        task = self.sized(shape)
        direct = task.direct_methods()
        kind = "direct" if method in direct else "scattering" if method == "scattering" else "variational"
        tiles = task._tiles(y.shape[-2:], shape) if kind == "scattering" and not _whole else None
        tile = shape if tiles is None else max(((r1 - r0) * f, (c1 - c0) * f) for (r0, r1, *_), (c0, c1, *_), f
                                               in tiles)
        pixels = float(np.prod(y.shape[:-2], dtype=np.float64)) * tile[0] * tile[1]
        check_memory(4 * WORKING_VALUES[kind] * pixels, f"a {shape[0]}x{shape[1]} {method} reconstruction",
                     device if method not in direct else None)
        if tiles is not None:
            options = dict(lam=lam, iters=iters, estimator=task.load_estimator(estimator), device=device,
                           progress=progress)
            result = task._tiled(y, method, shape, tiles, **options)
        elif method in direct:
            image = direct[method](y, iters)
            result = SolverResult(image=np.asarray(image, np.float32), iterations=iters or 0, method=method)
        else:
            A = task.operator(shape)
            yt = torch.from_numpy(y).to(device) if device is not None else torch.from_numpy(y)
            options = dict(reference=reference, progress=progress)
            if method == "scattering":
                result = task._scattering(A, yt, estimator, lam, iters, **options)
            else:
                result = task._variational(A, yt, method, lam, iters, vectorial=_vectorial, **options)
            result.image = result.image.cpu().numpy()
        support = task.support(shape)
        if support is not None:
            result.image = result.image * support
        result.time_s = time.perf_counter() - start
        return result

    def run(self, data, method: str = "tv", *, simulate: bool = False, seed: int = 0,
            channel_axis: int | None = None, **options) -> "Run":
        """What a command does with one image: reconstruct the measurement ``data``, or, with ``simulate``, take
        ``data`` as the ground truth, simulate its measurement with ``seed`` and reconstruct that.

        Every slice of a stack goes through here too, so a slice comes out as the 2-D command makes it.

        Parameters
        ----------
        data : array_like
            (m, n) measurement or, with ``simulate``, (M, N) truth; colour along ``channel_axis``.
        method, channel_axis, **options
            As :meth:`reconstruct` (``lam``, ``iters``, ``estimator``, ``device``, ``progress``).

        Returns
        -------
        Run
            ``truth`` (None unless simulated), ``measurement``, ``result`` (image float32 and finite).
        """
        data = np.asarray(data, np.float32)
        channels_first = channel_axis is not None and data.ndim == 3
        truth = None
        if simulate:
            truth = self.prepare_truth(np.moveaxis(data, channel_axis, 0) if channels_first else data)
            if min(truth.shape[-2:]) < 16:
                raise ValueError("the image is too small; the ground truth needs at least 16x16 pixels.")
            A, measurement = self.simulate(truth, seed)
            if min(A.range_shape) < 8:
                raise ValueError(f"the image is too small for this forward model; its measurement would be "
                                 f"{A.range_shape[0]}x{A.range_shape[1]}, and at least 8x8 is needed.")
            if channels_first:
                truth, measurement = np.moveaxis(truth, 0, channel_axis), np.moveaxis(measurement, 0, channel_axis)
        else:
            measurement = data
            if min(measurement.shape[:2]) < 8:
                raise ValueError("the measurement is too small; it needs at least 8x8 values.")
        result = self.reconstruct(measurement, method, channel_axis=channel_axis if channels_first else None,
                                  **options)
        result.image = np.asarray(result.image, np.float32)
        if not np.isfinite(result.image).all():
            raise ValueError(f"the {method} reconstruction diverged (non-finite values); try a smaller --lam.")
        return Run(truth, measurement, result)

    def _tiles(self, measurement_shape, shape) -> list | None:
        """The tiles of a tiled reconstruction: (rows, columns, scale) per tile, rows and columns as (start, stop,
        kept start, kept stop) in measurement pixels, scale the image pixels per measurement pixel; None when the
        image is reconstructed whole (small enough, or a forward model that is not local)."""
        if self.tile_margin is None or shape[0] * shape[1] <= TILE_PIXELS:
            return None
        m, n = (int(v) for v in measurement_shape)
        scale = shape[0] // m
        core = max(1, int(np.sqrt(TILE_PIXELS)) // scale)
        margin = -(-self.tile_margin // scale)

        def spans(length):
            edges = np.linspace(0, length, -(-length // core) + 1).round().astype(int)
            return [(max(a - margin, 0), min(b + margin, length), int(a), int(b)) for a, b in zip(edges, edges[1:])]

        tiles = [(r, c, scale) for r in spans(m) for c in spans(n)]
        return tiles if len(tiles) > 1 else None

    def _tiled(self, y: np.ndarray, method: str, shape, tiles, **options) -> SolverResult:
        """Reconstruct tile by tile (each with its margin, which is then dropped) and assemble the image: the
        scattering prior and a local forward model only couple pixels a few filter widths apart."""
        image = np.empty((*y.shape[:-2], *shape), np.float32)
        iterations = 0
        for (r0, r1, a0, a1), (c0, c1, b0, b1), f in tiles:
            part = self.reconstruct(y[..., r0:r1, c0:c1], method, _whole=True, **options)
            image[..., a0 * f:a1 * f, b0 * f:b1 * f] = part.image[..., (a0 - r0) * f:(a1 - r0) * f,
                                                                   (b0 - c0) * f:(b1 - c0) * f]
            iterations = max(iterations, part.iterations)
        return SolverResult(image=image, iterations=iterations, method=method, lam=part.lam)

    def _ycbcr(self, rgb: np.ndarray, method: str, **options) -> SolverResult:
        """Colour by luminance and chroma (ITU-R BT.601): the forward model acts on each channel alike, so the
        measurement's luminance is the measurement of the image's. Luminance by ``method``, chroma (where the eye
        is least sharp) by the task's baseline, or Tikhonov."""
        start = time.perf_counter()
        planes = np.tensordot(YCBCR, rgb, axes=1)
        result = self.reconstruct(planes[0], method, **options)
        cheap = self.baseline or "tikhonov"
        chroma = self.reconstruct(planes[1:], cheap, device=options.get("device")).image
        result.image = np.tensordot(np.linalg.inv(YCBCR), np.concatenate([result.image[None], chroma]),
                                    axes=1).astype(np.float32)
        result.time_s = time.perf_counter() - start
        return result

    def _variational(self, A, y: torch.Tensor, method: str, lam, iters, vectorial: bool = False,
                     **options) -> SolverResult:
        lam = self.relative_lam[method] if lam is None else lam
        solver, regularizer, constrained = VARIATIONAL[method]
        if vectorial:
            regularizer = lambda: TotalVariation(vectorial=True)  # noqa: E731
        nonnegative = self.nonnegative and constrained
        tolerance = {"tol": self.tv_tolerance} if method == "tv" else {}
        result = solver(A, y, regularizer(), lam * A.norm() ** 2, iters=iters or DEFAULT_ITERS[method],
                        nonnegative=nonnegative, **tolerance, **options)
        result.lam = lam
        return result

    def oracle(self, y, truth, **options) -> SolverResult:
        """The scattering method with the true image's scattering as its target instead of the estimator's
        prediction (same weights and start): the bound any estimator of the scattering is measured against."""
        y = torch.as_tensor(np.asarray(y, np.float32))
        shape = self.image_shape(y.shape[-2:])
        task = self.sized(shape)
        target = torch.as_tensor(np.asarray(truth, np.float32))
        # 100 iterations: the true target pulls far from the TV start (40 cost the oracle 1-3 dB on 30-view CT)
        result = task._scattering(task.operator(shape), y, None, None, ORACLE_ITERS, target=target, **options)
        result.image = result.image.cpu().numpy()
        return result

    def _scattering(self, A, y: torch.Tensor, estimator, lam, iters, target=None, **options) -> SolverResult:
        """TV first, then 0.5 ||A x - y||^2 + lam (R_S + (mu / lam) TV_eps) by L-BFGS from the TV image, R_S
        pulling the image's scattering towards the estimator's prediction from the TV image (Dokmanic, Bruna,
        Mallat & de Hoop 2016), or towards that of ``target`` (:meth:`oracle`)."""
        estimator = self.load_estimator(estimator)
        default_lam, mu = self.scattering_weights(estimator)
        lam = default_lam if lam is None else lam
        iters = self.scattering_iters if iters is None else iters
        norm2 = A.norm() ** 2
        start = self._variational(A, y, "tv", None, None).image  # on y's device
        if target is None:
            prior = ScatteringRegularizer.from_estimator(estimator, start)
        else:
            scattering = estimator.scatter(target.reshape(-1, *target.shape[-2:]))
            scattering = scattering.reshape(*target.shape[:-2], *scattering.shape[-3:])
            prior = ScatteringRegularizer(estimator.transform(target.shape[-2:], start.device), scattering,
                                          estimator.channel_scale)
        tv = TotalVariation(eps=SCATTERING_TV_EPS)
        regularizer, weight = (prior + (mu / lam) * tv, lam) if lam > 0 else (tv, mu)
        result = gradient_descent(A, y, regularizer, weight * norm2, x0=start, iters=iters, tol=1e-5,
                                  method="lbfgs", **options)
        if self.nonnegative:  # the joint objective is solved unconstrained; its result is clipped at 0
            result.image = result.image.clamp_min(0)
        result.method, result.lam = "scattering", lam
        return result


@functools.lru_cache(maxsize=64)
def _cached_operator(task: Task, shape: tuple[int, int]) -> LinearOperator:
    return task._make_operator(shape)
