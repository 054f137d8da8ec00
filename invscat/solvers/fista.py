"""FISTA (Beck & Teboulle 2009) for least squares plus a regulariser with a cheap prox."""

from __future__ import annotations

import torch

from invscat.operators.base import LinearOperator
from invscat.solvers.result import Monitor, SolverResult, as_tensor, check_weight, starting_point


def fista(A: LinearOperator, y, regularizer, lam: float, *, iters: int = 200, x0=None, tol: float = 1e-5,
          reference=None, callback=None, progress: bool = False, device=None) -> SolverResult:
    """Minimise 0.5 ||A x - y||^2 + lam R(x) with accelerated proximal gradient steps of size 1 / ||A||^2.

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : ndarray or torch.Tensor
        Measurement.
    regularizer : object with ``value(x)`` and ``prox(x, tau)``
        For example :class:`invscat.regularizers.WaveletL1`.
    lam : float
        Regularisation weight (>= 0).
    iters, x0, tol, reference, callback, progress, device
        As in :func:`invscat.solvers.pdhg_tv`.

    Returns
    -------
    SolverResult
    """
    check_weight(lam)
    yt, as_numpy = as_tensor(y, device)
    monitor = Monitor(f"fista-{regularizer.name}", iters, tol=tol, reference=reference, callback=callback,
                      progress=progress)
    step = 1.0 / A.norm() ** 2
    x = starting_point(x0, yt, lambda: A.adjoint(yt) * step)
    Ax = A(x)
    x_old, Ax_old, t = x, Ax, 1.0
    y_norm = torch.linalg.vector_norm(yt).clamp_min(1e-30)
    for _ in range(monitor.iters):
        t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
        beta = (t - 1) / t_new
        z, Az = x + beta * (x - x_old), Ax + beta * (Ax - Ax_old)
        x_old, Ax_old = x, Ax
        x = regularizer.prox(z - step * A.adjoint(Az - yt), step * lam)
        Ax, t = A(x), t_new
        misfit = torch.linalg.vector_norm(Ax - yt)
        objective = 0.5 * misfit ** 2 + lam * regularizer.value(x)
        if monitor.step(x, objective.item(), (misfit / y_norm).item()):
            break
    return monitor.finish(x, as_numpy)
