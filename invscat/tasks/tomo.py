"""Computed tomography: the Radon transform (ASTRA), sparse-view and limited-angle, parallel and fan beam."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from invscat import data
from invscat.checks import check_count
from invscat.estimators.linear import LearnedFBP
from invscat.operators.radon import Radon, covered_side, skimage_convention, skimage_side
from invscat.solvers.tomography import cgls, fbp, sirt
from invscat.tasks.base import DEFAULT_ITERS, DEFAULT_NOISE, FULL_ARC_ITERS, LIMITED_ANGLE_ITERS, Task, noisy

GEOMETRIES = ("parallel", "fan")
CONVENTIONS = ("invscat", "skimage")


@dataclass(frozen=True)
class Tomography(Task):
    """CT with ``views`` angles evenly spread over ``arc`` degrees (default 180 parallel, 360 fan), or the given
    ``angles`` (radians), on ``detectors`` cells (default: covering the image's diagonal), for ``size`` x ``size``
    images (default: the largest the detectors cover).

    ``convention='skimage'`` reads sinograms made by ``skimage.transform.radon``: its detector grid
    (ceil(sqrt(2) side) cells) and its rotation centre (:func:`~invscat.operators.radon.skimage_convention`).
    ``circle`` says the object lies within the circle inscribed in the image, so the detector spans the image
    side rather than its diagonal (scikit-image's ``circle=True``). ``axis_offset`` puts the rotation axis that
    many detector cells from the detector's centre; ``detector_spacing`` is the cell width in pixels.

    Methods: 'fbp' (Hann-apodised ramp), 'sirt' (x >= 0), 'cgls' (stopped early), 'linear' (a learned FBP filter,
    fitted on the training images and phantoms once per geometry per process); 'tikhonov', 'tv' (x >= 0), 'l1';
    'scattering' (estimators ship for 128x128 parallel beam with 30 views over 180 degrees and 90 over 120).

    Examples
    --------
    >>> from invscat import data
    >>> task = Tomography(views=20)
    >>> A, sinogram = task.simulate(data.shepp_logan(64))
    >>> sinogram.shape, task.reconstruct(sinogram, "fbp").image.shape
    ((20, 92), (64, 64))
    """

    views: int = 30
    arc: float | None = None
    geometry: str = "parallel"
    detectors: int | None = None
    size: int | None = None
    noise: float = DEFAULT_NOISE
    angles: tuple | None = None
    axis_offset: float = 0.0
    detector_spacing: float | None = None
    convention: str = "invscat"
    circle: bool = False

    name = "tomo"
    baseline = "fbp"  # the classical method figures show beside the result
    nonnegative = True
    training_phantoms = 0.25
    # chosen by benchmarks/tune_lambdas.py on data.TRAINING_IMAGES (30 views, 128x128, noise 0.01)
    relative_lam = {"tikhonov": 1e-2, "tv": 1e-3, "l1": 3e-3, "scattering": 1e-4}

    def __post_init__(self):
        if self.angles is not None:
            angles = np.asarray(self.angles, np.float64).ravel()
            if angles.size == 0 or not np.isfinite(angles).all():
                raise ValueError("the projection angles must be one or more finite numbers.")
            object.__setattr__(self, "angles", tuple(float(a) for a in angles))
            object.__setattr__(self, "views", angles.size)
            if self.arc is None:
                step = (angles.max() - angles.min()) / (angles.size - 1) if angles.size > 1 else np.pi
                object.__setattr__(self, "arc", float(np.rad2deg(angles.max() - angles.min() + step)))
        object.__setattr__(self, "views", check_count("number of views", self.views))
        if self.convention not in CONVENTIONS:
            raise ValueError(f"unknown sinogram convention {self.convention!r}; expected one of "
                             f"{', '.join(CONVENTIONS)}.")
        if not np.isfinite(self.axis_offset):
            raise ValueError(f"the rotation-axis offset must be a finite number, got {self.axis_offset}.")
        if self.detector_spacing is not None and not (np.isfinite(self.detector_spacing) and self.detector_spacing > 0):
            raise ValueError(f"the detector spacing must be a positive number, got {self.detector_spacing}.")
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"unknown geometry {self.geometry!r}; expected one of {', '.join(GEOMETRIES)}.")
        arc = (180.0 if self.geometry == "parallel" else 360.0) if self.arc is None else float(self.arc)
        if not (np.isfinite(arc) and 0 < arc <= 360):
            raise ValueError(f"the angular arc must be in (0, 360] degrees, got {self.arc}.")
        object.__setattr__(self, "arc", round(arc, 4))
        for name in ("detectors", "size"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_count(f"number of {name}" if name == "detectors"
                                                           else "image size", getattr(self, name)))

    @classmethod
    def from_radon(cls, radon: Radon, noise: float = DEFAULT_NOISE) -> "Tomography":
        """The task of an acquisition geometry whose views are evenly spread (as this class makes them)."""
        M, N = radon.domain_shape
        if M != N:
            raise ValueError(f"the tomography tasks reconstruct square images; got {M}x{N}.")
        angles = np.asarray(radon.angles, np.float64)
        step = angles[1] - angles[0] if angles.size > 1 else np.pi
        return cls(views=angles.size, arc=float(np.rad2deg(step) * angles.size), geometry=radon.geometry,
                   detectors=radon.range_shape[1], size=M, noise=noise)

    def sized(self, image_shape):
        return self if self.size is not None else dataclasses.replace(self, size=int(image_shape[0]))

    def _make_operator(self, shape):
        if self.size is not None and tuple(shape) != (self.size, self.size):
            raise ValueError(f"this tomography task reconstructs {self.size}x{self.size} images, not {shape}.")
        angles = (np.asarray(self.angles) if self.angles is not None
                  else np.deg2rad(np.arange(self.views) * self.arc / self.views))
        side = max(int(s) for s in shape)
        detectors = self.detectors or self.detector_count(side)
        offsets = {"axis_offset": self.axis_offset, "image_offset": (0.0, 0.0)}
        if self.convention == "skimage":
            offsets = skimage_convention(side, detectors)
            offsets["axis_offset"] += self.axis_offset
        return Radon(shape, angles, detectors=detectors, geometry=self.geometry,
                     detector_spacing=self.detector_spacing, **offsets)

    @property
    def scattering_iters(self):
        # L-BFGS iterations of the scattering method (validation images, benchmarks/tune_ensemble.py --iters): over a
        # full arc the network's pull on edges keeps gaining to 100 (30 / 45 views, 256x256: +0.09 / +0.06 / +0.09 dB
        # over 40), a missing wedge to 200
        full = self.arc >= (180 if self.geometry == "parallel" else 360)
        return FULL_ARC_ITERS if full else LIMITED_ANGLE_ITERS

    @property
    def tv_tolerance(self):
        # a missing wedge converges slowly: 2e-4 stopped 0.08-0.21 dB short at 90 views over 120 degrees
        return 2e-4 if self.arc >= 180 else 1e-4

    def support(self, shape):
        """With ``circle``, the disc inscribed in the image (as scikit-image's ``iradon(circle=True)``)."""
        if not self.circle:
            return None
        M, N = shape
        rows, cols = np.mgrid[:M, :N]
        radius = min(M, N) // 2
        return (((rows - M // 2) ** 2 + (cols - N // 2) ** 2) <= radius ** 2).astype(np.float32)

    def detector_count(self, side: int) -> int:
        """The default detector of ``side`` x ``side`` images: the image's side with ``circle``, else its diagonal
        (scikit-image: ceil(sqrt(2) side) cells; invscat: one more), in cells of ``detector_spacing``."""
        spacing = self.detector_spacing or 1.0
        if self.circle:
            return int(np.ceil(side / spacing))
        if self.convention == "skimage":
            return int(np.ceil(np.sqrt(2) * side / spacing))
        return default_detector_count(side, spacing)

    def guess_side(self, detectors: int) -> int:
        """The image side behind a sinogram of ``detectors`` cells: the inverse of :meth:`detector_count`."""
        spacing = self.detector_spacing or 1.0
        if self.circle:
            return max(1, int(np.floor(detectors * spacing)))
        if self.convention == "skimage":
            return max(1, skimage_side(int(np.floor(detectors * spacing))))
        return covered_side(int(np.floor(detectors * spacing)))

    def image_shape(self, measurement_shape):
        views, detectors = (int(s) for s in measurement_shape[-2:])
        if views != self.views:
            raise ValueError(f"the sinogram has {views} views (rows), but the task has {self.views}.")
        if self.detectors is not None and detectors != self.detectors:
            raise ValueError(f"the sinogram has {detectors} detectors (columns), but the task has {self.detectors}.")
        side = self.size or self.guess_side(detectors)
        width = detectors * (self.detector_spacing or 1.0)
        if side > width:
            raise ValueError(f"a {side}x{side} image is wider than the {detectors}-cell detector's field of view; "
                             f"give a size of at most {int(width)} (the detector covers the whole diagonal of "
                             f"{self.guess_side(detectors)}x{self.guess_side(detectors)}).")
        return side, side

    @property
    def radon(self) -> Radon:
        """The operator of this task's image size (``size``, or 128 when it is not set)."""
        side = self.size or 128
        return self.operator((side, side))

    @property
    def training_size(self) -> int:
        return self.size or 128

    def metadata(self):
        radon = self.radon
        meta = {"task": self.name, "size": radon.domain_shape[0], "views": self.views, "arc": self.arc,
                "geometry": self.geometry, "detectors": int(radon.range_shape[1])}
        extras = {"convention": (self.convention, "invscat"), "circle": (self.circle, False),
                  "axis_offset": (self.axis_offset, 0.0), "detector_spacing": (self.detector_spacing, None)}
        meta.update({key: value for key, (value, default) in extras.items() if value != default})
        if self.angles is not None and not np.allclose(self.angles, np.deg2rad(np.arange(self.views) * self.arc
                                                                             / self.views)):
            meta["angles"] = [round(a, 6) for a in self.angles]
        return meta

    def family_metadata(self):
        return {"task": self.name, "geometry": self.geometry}

    def estimator_filename(self):
        meta = self.metadata()
        return (f"tomo_{meta['geometry']}_{meta['views']}views_{meta['arc']:g}deg_{meta['size']}px_"
                f"{meta['detectors']}det.pt")

    def fit_options(self):
        meta = self.metadata()
        return (f"tomo --size {meta['size']} --views {meta['views']} --arc {meta['arc']:g} "
                f"--geometry {meta['geometry']}")

    def direct_methods(self):
        def radon_for(sinogram):
            return self.operator(self.image_shape(sinogram.shape))

        return {
            "fbp": lambda y, iters: fbp(radon_for(y), y, "hann"),
            "sirt": lambda y, iters: sirt(radon_for(y), y, iters or DEFAULT_ITERS["sirt"], nonnegative=True),
            "cgls": lambda y, iters: cgls(radon_for(y), y, iters or DEFAULT_ITERS["cgls"]),
            "linear": lambda y, iters: _learned_fbp(self, self.image_shape(y.shape)).predict(y),
        }


def looks_transposed(sinogram) -> bool:
    """Whether a (views, detectors) sinogram of a non-negative object looks like it is (detectors, views).

    Each parallel-beam view integrates the whole object, so the sum along a view's detectors barely changes from
    view to view (relative spread below 5% on the training images, fan beam included), whereas sums along the
    other axis trace the object's profile (spread 50-70%). Refuses to guess on data that are not mostly
    non-negative.

    >>> from invscat import data
    >>> y = Tomography(30).simulate(data.shepp_logan(64))[1]
    >>> looks_transposed(y), looks_transposed(y.T)
    (False, True)
    """
    y = np.asarray(sinogram, np.float64)
    if y.ndim != 2 or min(y.shape) < 3 or y.max() <= 0 or y.min() < -0.1 * y.max():
        return False
    per_view, per_detector = y.sum(axis=1), y.sum(axis=0)
    if per_view.mean() <= 0 or per_detector.mean() <= 0:
        return False
    spread_views = per_view.std() / per_view.mean()
    return bool(spread_views > 0.1 and per_detector.std() / per_detector.mean() < spread_views / 2)


def default_detector_count(side: int, spacing: float = 1.0) -> int:
    """invscat's detector of ``side`` x ``side`` images: ceil(sqrt(2) side) + 1 unit cells (the diagonal and a
    margin; the estimators shipped for 128x128 CT have 183), or as many cells of ``spacing`` as cover them."""
    from invscat.operators.radon import default_detectors

    cells = default_detectors((side, side))
    return cells if spacing == 1.0 else int(np.ceil(cells / spacing))


@functools.lru_cache(maxsize=8)
def _learned_fbp(task: Tomography, shape) -> LearnedFBP:
    radon = task.operator(shape)
    truth = data.training_set(shape, phantoms=10)
    return LearnedFBP(radon).fit(noisy(radon(truth), task.noise, 0), truth)
