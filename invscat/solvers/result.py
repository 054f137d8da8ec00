"""The result type every iterative solver returns, and the monitor that fills it: objective and data residual per
iteration, PSNR against a reference, stopping on relative change, callbacks and a progress bar."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch


@dataclass
class SolverResult:
    """What an iterative solver returns.

    Attributes
    ----------
    image : ndarray or torch.Tensor
        The reconstruction (numpy when the measurement was numpy).
    objective : list of float
        Objective value after each iteration (L-BFGS: at the start of each iteration, which its line search
        evaluates anyway).
    residual : list of float
        Relative data residual ||A x - y|| / ||y|| after each iteration.
    psnr : list of float
        PSNR in dB after each iteration, when a reference image was given.
    iterations : int
        Iterations run.
    time_s : float
        Wall-clock time of the solve.
    converged : bool
        True if the relative-change tolerance stopped it before the iteration limit.
    method : str
        The solver's name.
    lam : float or None
        The regularisation weight relative to ||A||^2, when :mod:`invscat.reconstruct` chose or was given one.
    """

    image: object
    objective: list = field(default_factory=list)
    residual: list = field(default_factory=list)
    psnr: list = field(default_factory=list)
    iterations: int = 0
    time_s: float = 0.0
    converged: bool = False
    method: str = ""
    lam: float | None = None


Callback = Callable[[int, torch.Tensor, dict], Optional[bool]]
PROGRESS_SECONDS = 5.0


class Monitor:
    """Book-keeping for a solver loop.

    ``step(x, objective, residual)`` records one iteration and returns True when the loop should stop: the
    relative change ||x_k - x_{k-1}|| / ||x_k|| fell below ``tol``, or the callback returned True.
    ``callback(k, x, info)`` gets the iteration number, the iterate and a dict with 'objective', 'residual'
    and, with a reference, 'psnr'.
    """

    def __init__(self, method: str, iters: int, *, tol: float = 0.0, reference=None,
                 callback: Callback | None = None, progress: bool = False):
        if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)) or iters < 0:
            raise ValueError(f"the number of iterations must be an integer >= 0, got {iters!r}.")
        if not tol >= 0:
            raise ValueError(f"the tolerance must be >= 0, got {tol}.")
        self.result = SolverResult(image=None, method=method)
        self.iters, self.tol, self.callback = int(iters), float(tol), callback
        self.reference = None if reference is None else np.asarray(reference, np.float64)
        self._previous = None
        self._start = time.perf_counter()
        self._bar = _progress_bar(method, iters) if progress and iters > 0 and sys.stderr.isatty() else None
        # outside a terminal (nohup, a scheduler's log) progress is a plain line every PROGRESS_SECONDS
        self._lines = progress and iters > 0 and self._bar is None
        self._last_line = self._start

    def step(self, x: torch.Tensor, objective: float, residual: float) -> bool:
        from invscat.metrics import psnr

        r = self.result
        r.iterations += 1
        r.objective.append(float(objective))
        r.residual.append(float(residual))
        info = {"objective": r.objective[-1], "residual": r.residual[-1]}
        if self.reference is not None:
            r.psnr.append(psnr(x.detach().cpu().numpy().reshape(self.reference.shape), self.reference))
            info["psnr"] = r.psnr[-1]
        stop = False
        if self._previous is not None and self.tol > 0:
            change = torch.linalg.vector_norm(x - self._previous) / torch.linalg.vector_norm(x).clamp_min(1e-30)
            if change.item() < self.tol:
                r.converged = stop = True
        self._previous = x.detach().clone() if self.tol > 0 else None
        if self.callback is not None and self.callback(r.iterations, x, info):
            stop = True
        if self._bar is not None:
            self._bar[0].update(self._bar[1], advance=1)
        elif self._lines and time.perf_counter() - self._last_line >= PROGRESS_SECONDS:
            self._last_line = time.perf_counter()
            print(f"{r.method}: iteration {r.iterations}/{self.iters}, {self._last_line - self._start:.0f} s",
                  file=sys.stderr, flush=True)
        return stop

    def finish(self, image, as_numpy: bool) -> SolverResult:
        if self._bar is not None:
            self._bar[0].stop()
        image = image.detach()
        self.result.image = image.cpu().numpy() if as_numpy else image
        self.result.time_s = time.perf_counter() - self._start
        return self.result


def _progress_bar(method: str, total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn(f"{method}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task(method, total=total)
    progress.start()
    return progress, task


def check_weight(lam: float) -> None:
    if not lam >= 0:
        raise ValueError(f"the regularisation weight must be >= 0, got {lam}.")


def starting_point(x0, like: torch.Tensor, default: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``x0`` as a tensor of ``like``'s dtype and device, or ``default()`` when it is None."""
    if x0 is None:
        return default()
    return torch.as_tensor(np.asarray(x0) if not isinstance(x0, torch.Tensor) else x0, dtype=like.dtype,
                           device=like.device).clone()


def as_tensor(y, device=None) -> tuple[torch.Tensor, bool]:
    """A measurement as a float tensor (on ``device`` if given), and whether it came as numpy."""
    is_numpy = not isinstance(y, torch.Tensor)
    t = torch.as_tensor(np.asarray(y, dtype=np.float32)) if is_numpy else y
    if not t.is_floating_point():
        raise TypeError(f"the measurement must be floating point, got dtype {t.dtype}.")
    if not torch.isfinite(t).all():
        raise ValueError("the measurement contains NaN or infinite values.")
    return (t.to(device) if device is not None else t), is_numpy
