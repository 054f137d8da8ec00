"""Computed tomography: the Radon transform (ASTRA), sparse-view and limited-angle, parallel and fan beam."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from invscat import data
from invscat.checks import check_count
from invscat.estimators.linear import LearnedFBP
from invscat.operators.radon import Radon, covered_side
from invscat.solvers.tomography import cgls, fbp, sirt
from invscat.tasks.base import DEFAULT_ITERS, DEFAULT_NOISE, Task, noisy

GEOMETRIES = ("parallel", "fan")


@dataclass(frozen=True)
class Tomography(Task):
    """CT with ``views`` angles evenly spread over ``arc`` degrees (default 180 parallel, 360 fan), on
    ``detectors`` unit cells (default: covering the image's diagonal), for ``size`` x ``size`` images (default:
    the largest the detectors cover).

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

    name = "tomo"
    nonnegative = True
    training_phantoms = 0.25
    # chosen by benchmarks/tune_lambdas.py on data.TRAINING_IMAGES (30 views, 128x128, noise 0.01)
    relative_lam = {"tikhonov": 1e-2, "tv": 1e-3, "l1": 3e-3, "scattering": 1e-4}

    def __post_init__(self):
        object.__setattr__(self, "views", check_count("number of views", self.views))
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
        angles = np.deg2rad(np.arange(self.views) * self.arc / self.views)
        return Radon(shape, angles, detectors=self.detectors, geometry=self.geometry)

    def image_shape(self, measurement_shape):
        views, detectors = (int(s) for s in measurement_shape[-2:])
        if views != self.views:
            raise ValueError(f"the sinogram has {views} views (rows), but the task has {self.views}.")
        if self.detectors is not None and detectors != self.detectors:
            raise ValueError(f"the sinogram has {detectors} detectors (columns), but the task has {self.detectors}.")
        side = self.size or covered_side(detectors)
        if side > detectors:
            raise ValueError(f"a {side}x{side} image is wider than the {detectors}-cell detector's field of view; "
                             f"give a size of at most {detectors} (the detector covers the whole diagonal of "
                             f"{covered_side(detectors)}x{covered_side(detectors)}).")
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
        return {"task": self.name, "size": radon.domain_shape[0], "views": self.views, "arc": self.arc,
                "geometry": self.geometry, "detectors": int(radon.range_shape[1])}

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


@functools.lru_cache(maxsize=8)
def _learned_fbp(task: Tomography, shape) -> LearnedFBP:
    radon = task.operator(shape)
    truth = data.training_set(shape, phantoms=10)
    return LearnedFBP(radon).fit(noisy(radon(truth), task.noise, 0), truth)
