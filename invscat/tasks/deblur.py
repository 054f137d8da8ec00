"""Deconvolution: a Gaussian blur, no decimation."""

from __future__ import annotations

from dataclasses import dataclass

from invscat.operators.downsample import Blur
from invscat.tasks.base import DEFAULT_NOISE, Task


@dataclass(frozen=True)
class Deblurring(Task):
    """Deblurring: y = blur(x) + noise, the blur Gaussian of standard deviation ``sigma`` pixels.

    Methods: 'tikhonov', 'tv', 'l1'; 'scattering' with an estimator from ``invscat fit deblur``.

    Examples
    --------
    >>> from invscat import data
    >>> task = Deblurring(sigma=1.5)
    >>> A, blurred = task.simulate(data.shepp_logan(32))
    >>> task.reconstruct(blurred, "tv", iters=20).image.shape
    (32, 32)
    """

    sigma: float = 2.0
    noise: float = DEFAULT_NOISE

    name = "deblur"
    baseline = None  # the classical method figures show beside the result
    tile_margin = 32  # a local model: the scattering method runs by tiles on large images (Task.tile_margin)
    # chosen by benchmarks/tune_lambdas.py on data.TRAINING_IMAGES (sigma 2, noise 0.01); "scattering" is for
    # estimators without a tuned weight of their own (none ships for deblurring)
    relative_lam = {"tikhonov": 3e-3, "tv": 3e-4, "l1": 1e-3, "scattering": 1e-4}

    def __post_init__(self):
        sigma = float(self.sigma)
        if not (sigma > 0 and sigma < 1e3):
            raise ValueError(f"the blur sigma must be a number of pixels in (0, 1000), got {self.sigma!r}.")
        object.__setattr__(self, "sigma", sigma)

    def _make_operator(self, shape):
        return Blur(shape, sigma=self.sigma)

    def image_shape(self, measurement_shape):
        return tuple(int(s) for s in measurement_shape[-2:])

    def metadata(self):
        return {"task": self.name, "sigma": self.sigma}

    def estimator_filename(self):
        return f"deblur_sigma{self.sigma:g}.pt"

    def fit_options(self):
        return f"deblur --sigma {self.sigma:g}"
