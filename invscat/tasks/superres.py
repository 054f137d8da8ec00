"""Super-resolution: Gaussian blur of sigma = factor / 2, then decimation by the factor."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from invscat import data
from invscat.checks import check_count
from invscat.estimators.linear import LinearSuperResolution
from invscat.operators.downsample import Downsample
from invscat.tasks.base import DEFAULT_NOISE, Task, noisy


def bicubic(low, factor: int) -> np.ndarray:
    """Bicubic interpolation (Keys, a = -0.75 as torch) on the decimation grid of :class:`Downsample`: each
    low-resolution pixel sits at the centre of the f x f block it averages."""
    t = torch.as_tensor(np.asarray(low, np.float32))
    batch = t.shape[:-2]
    up = F.interpolate(t.reshape(-1, 1, *t.shape[-2:]), scale_factor=factor, mode="bicubic", align_corners=False)
    return up.reshape(*batch, *up.shape[-2:]).numpy()


@dataclass(frozen=True)
class SuperResolution(Task):
    """Super-resolution by ``factor``: y = decimate(blur(x)) + noise, the blur Gaussian of sigma factor / 2.

    Methods: 'bicubic'; 'linear' (the best linear estimator: per-phase filters fitted on the training images
    degraded like the input, once per factor and size per process); 'tikhonov', 'tv', 'l1'; 'scattering'.

    Examples
    --------
    >>> from invscat import data
    >>> task = SuperResolution(factor=2)
    >>> A, low = task.simulate(data.shepp_logan(64))
    >>> low.shape, task.reconstruct(low, "tv", iters=20).image.shape
    ((32, 32), (64, 64))
    """

    factor: int = 4
    noise: float = DEFAULT_NOISE

    name = "superres"
    # chosen by benchmarks/tune_lambdas.py on data.TRAINING_IMAGES (x4, noise 0.01); "scattering" is for
    # estimators without a tuned weight of their own (the shipped ones carry theirs)
    relative_lam = {"tikhonov": 3e-2, "tv": 3e-3, "l1": 1e-2, "scattering": 1e-4}

    def __post_init__(self):
        object.__setattr__(self, "factor", check_count("super-resolution factor", self.factor))

    def _make_operator(self, shape):
        return Downsample(shape, self.factor)

    def image_shape(self, measurement_shape):
        return tuple(int(s) * self.factor for s in measurement_shape[-2:])

    def prepare_truth(self, truth):
        M, N = (s - s % self.factor for s in truth.shape[-2:])
        return truth[..., :M, :N]

    def metadata(self):
        return {"task": self.name, "factor": self.factor}

    def estimator_filename(self):
        return f"superres_x{self.factor}.pt"

    def fit_options(self):
        return f"superres --factor {self.factor}"

    def direct_methods(self):
        return {"bicubic": lambda low, iters: bicubic(low, self.factor),
                "linear": lambda low, iters: _linear_estimator(self, self.image_shape(low.shape)).predict(low)}


@functools.lru_cache(maxsize=8)
def _linear_estimator(task: SuperResolution, shape) -> LinearSuperResolution:
    truth = data.training_set(shape)
    return LinearSuperResolution(task.factor).fit(noisy(task.operator(shape)(truth), task.noise, 0), truth)
