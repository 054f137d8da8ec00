"""FISTA (Beck & Teboulle 2009) for least squares plus a regulariser with a cheap prox."""

from __future__ import annotations

import torch

from invscat.operators.base import LinearOperator
from invscat.solvers.result import Monitor, SolverResult, as_tensor, check_weight, starting_point


def fista(A: LinearOperator, y, regularizer, lam: float, *, x0=None, iters: int = 200, tol: float = 1e-5,
          nonnegative: bool = False, callback=None, progress: bool = False, reference=None,
          device=None) -> SolverResult:
    """Minimise 0.5 ||A x - y||^2 + lam R(x) with accelerated proximal gradient steps of size 1 / ||A||^2.

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : ndarray or torch.Tensor
        Measurement.
    regularizer : Regularizer
        One that provides ``prox``, for example :class:`invscat.regularizers.WaveletL1`.
    lam : float
        Regularisation weight (>= 0), absolute.
    nonnegative : bool
        Project onto x >= 0 after every proximal step.
    x0, iters, tol, callback, progress, reference, device
        As in :func:`invscat.solvers.pdhg`.

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from invscat.operators import Identity
    >>> from invscat.regularizers import WaveletL1
    >>> y = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    >>> fista(Identity(y.shape), y, WaveletL1("haar", levels=2), 0.05, iters=20).image.shape
    (16, 16)
    """
    check_weight(lam)
    regularizer.require("prox", "FISTA")
    yt, as_numpy = as_tensor(y, device)
    monitor = Monitor(f"fista-{regularizer.name}", iters, tol=tol, reference=reference, callback=callback,
                      progress=progress)
    step = 1.0 / A.norm() ** 2
    x = starting_point(x0, yt, lambda: A.adjoint(yt) * step)
    if nonnegative:
        x = x.clamp_min(0)
    Ax = A(x)
    x_old, Ax_old, t = x, Ax, 1.0
    y_norm = torch.linalg.vector_norm(yt).clamp_min(1e-30)
    for _ in range(monitor.iters):
        t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
        beta = (t - 1) / t_new
        z, Az = x + beta * (x - x_old), Ax + beta * (Ax - Ax_old)
        x_old, Ax_old = x, Ax
        x = regularizer.prox(z - step * A.adjoint(Az - yt), step * lam)
        if nonnegative:
            x = x.clamp_min(0)
        Ax, t = A(x), t_new
        misfit = torch.linalg.vector_norm(Ax - yt)
        objective = 0.5 * misfit ** 2 + lam * regularizer.value(x)
        if monitor.step(x, objective.item(), (misfit / y_norm).item()):
            break
    return monitor.finish(x, as_numpy)
