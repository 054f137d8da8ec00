"""Tikhonov-regularised least squares by conjugate gradients on the normal equations."""

from __future__ import annotations

import torch

from invscat.operators.base import LinearOperator
from invscat.regularizers.tikhonov import Tikhonov
from invscat.solvers.result import Monitor, SolverResult, as_tensor, check_weight, starting_point


def cg_tikhonov(A: LinearOperator, y, lam: float, *, regularizer: Tikhonov | None = None, iters: int = 100, x0=None,
                tol: float = 1e-6, reference=None, callback=None, progress: bool = False,
                device=None) -> SolverResult:
    """Minimise 0.5 ||A x - y||^2 + lam 0.5 ||L x||^2 by CG on (A^T A + lam L^T L) x = A^T y.

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : ndarray or torch.Tensor
        Measurement.
    lam : float
        Weight (>= 0); 0 gives plain least squares (CGNE, stopped by ``iters``).
    regularizer : Tikhonov, optional
        L = gradient (default) or identity.
    iters, x0, reference, callback, progress, device
        As in :func:`invscat.solvers.pdhg_tv`.
    tol : float
        Stop when the normal-equation residual falls below ``tol`` times ||A^T y||.

    Returns
    -------
    SolverResult
    """
    check_weight(lam)
    regularizer = regularizer or Tikhonov("gradient")
    yt, as_numpy = as_tensor(y, device)
    monitor = Monitor("cg-tikhonov", iters, reference=reference, callback=callback, progress=progress)
    x = starting_point(x0, yt, lambda: torch.zeros_like(A.adjoint(yt)))
    Ax = A(x)
    r = A.adjoint(yt - Ax) - lam * regularizer.normal(x)
    p, rr = r, torch.sum(r * r)
    stop = tol ** 2 * torch.sum(A.adjoint(yt) ** 2)
    y_norm = torch.linalg.vector_norm(yt).clamp_min(1e-30)
    for _ in range(monitor.iters):
        if rr <= stop:
            monitor.result.converged = True
            break
        Ap = A(p)
        normal_p = A.adjoint(Ap) + lam * regularizer.normal(p)
        alpha = rr / torch.sum(p * normal_p)
        x, Ax = x + alpha * p, Ax + alpha * Ap
        r = r - alpha * normal_p
        rr_new = torch.sum(r * r)
        p, rr = r + (rr_new / rr) * p, rr_new
        misfit = torch.linalg.vector_norm(Ax - yt)
        objective = 0.5 * misfit ** 2 + lam * regularizer.value(x)
        if monitor.step(x, objective.item(), (misfit / y_norm).item()):
            break
    return monitor.finish(x, as_numpy)
