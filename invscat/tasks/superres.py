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
from invscat.operators.downsample import KERNELS, Downsample, make_kernel
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
    """Super-resolution by ``factor``: y = decimate(blur(x)) + noise, the blur a Gaussian of standard deviation
    ``sigma`` (default factor / 2) pixels, or ``kernel`` 'box' (area averaging), 'bicubic' (antialiased bicubic
    downscaling, as MATLAB's imresize) or a 2-D array (:func:`~invscat.operators.downsample.make_kernel`).

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
    kernel: object = "gaussian"  # a name of KERNELS, or a 2-D array (kept as a tuple of rows: tasks are hashable)
    sigma: float | None = None

    name = "superres"
    baseline = "bicubic"  # the classical method figures show beside the result
    tile_margin = 32  # a local model: the scattering method runs by tiles on large images (Task.tile_margin)
    # chosen by benchmarks/tune_lambdas.py on data.TRAINING_IMAGES (x4, noise 0.01); "scattering" is for
    # estimators without a tuned weight of their own (the shipped ones carry theirs)
    relative_lam = {"tikhonov": 3e-2, "tv": 3e-3, "l1": 1e-2, "scattering": 1e-4}

    def __post_init__(self):
        object.__setattr__(self, "factor", check_count("super-resolution factor", self.factor))
        if isinstance(self.kernel, str):
            if self.kernel not in KERNELS:
                raise ValueError(f"unknown blur kernel {self.kernel!r}; expected one of {', '.join(KERNELS)} or a "
                                 "2-D array.")
            if self.sigma is not None and self.kernel != "gaussian":
                raise ValueError(f"sigma is the width of the Gaussian kernel; the {self.kernel} kernel has none.")
            make_kernel(self.kernel, self.factor, self.sigma)  # checks sigma
        else:
            weights = np.asarray(self.kernel, np.float64)
            if weights.ndim != 2 or weights.size == 0 or not np.isfinite(weights).all() or weights.sum() == 0:
                raise ValueError("a custom blur kernel must be a non-empty 2-D array of finite numbers with a "
                                 "non-zero sum.")
            object.__setattr__(self, "kernel", tuple(map(tuple, weights.tolist())))

    def _make_operator(self, shape):
        kernel = self.kernel if isinstance(self.kernel, str) else np.asarray(self.kernel)
        return Downsample(shape, self.factor, kernel=kernel, sigma=self.sigma)

    def model(self) -> dict:
        """The degradation model, as recorded in metrics and estimator metadata: the kernel (a name, or 'custom'
        with its size) and sigma."""
        if isinstance(self.kernel, str):
            sigma = (self.factor / 2 if self.sigma is None else self.sigma) if self.kernel == "gaussian" else None
            return {"kernel": self.kernel, "sigma": sigma}
        return {"kernel": f"custom {len(self.kernel)}x{len(self.kernel[0])}", "sigma": None}

    def image_shape(self, measurement_shape):
        return tuple(int(s) * self.factor for s in measurement_shape[-2:])

    def prepare_truth(self, truth):
        M, N = (s - s % self.factor for s in truth.shape[-2:])
        return truth[..., :M, :N]

    def metadata(self):
        return {"task": self.name, "factor": self.factor, **self.model()}

    def _default_model(self) -> bool:
        return self.model() == SuperResolution(self.factor).model()

    def estimator_filename(self):
        if self._default_model():
            return f"superres_x{self.factor}.pt"
        model = self.model()
        sigma = f"_sigma{model['sigma']:g}" if model["sigma"] is not None else ""
        return f"superres_x{self.factor}_{model['kernel'].replace(' ', '')}{sigma}.pt"

    def fit_options(self):
        model = self.model()
        extra = "" if self._default_model() else (
            f" --kernel {model['kernel']}" + (f" --sigma {model['sigma']:g}" if model["sigma"] is not None else ""))
        return f"superres --factor {self.factor}{extra}"

    def direct_methods(self):
        return {"bicubic": lambda low, iters: bicubic(low, self.factor),
                "linear": lambda low, iters: _linear_estimator(self, self.image_shape(low.shape)).predict(low)}


@functools.lru_cache(maxsize=8)
def _linear_estimator(task: SuperResolution, shape) -> LinearSuperResolution:
    truth = data.training_set(shape)
    return LinearSuperResolution(task.factor).fit(noisy(task.operator(shape)(truth), task.noise, 0), truth)
