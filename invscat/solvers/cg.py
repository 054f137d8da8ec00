"""Quadratically regularised least squares (Tikhonov) by conjugate gradients on the normal equations."""

from __future__ import annotations

import torch

from invscat.linalg import conjugate_gradient
from invscat.operators.base import LinearOperator
from invscat.solvers.result import Monitor, SolverResult, as_tensor, check_weight, starting_point


def cg(A: LinearOperator, y, regularizer, lam: float, *, x0=None, iters: int = 100, tol: float = 1e-6,
       nonnegative: bool = False, callback=None, progress: bool = False, reference=None,
       device=None) -> SolverResult:
    """Minimise 0.5 ||A x - y||^2 + lam R(x) for a quadratic R(x) = 0.5 <x, Q x>, by CG on
    (A^T A + lam Q) x = A^T y (:func:`invscat.linalg.conjugate_gradient`).

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : ndarray or torch.Tensor
        Measurement.
    regularizer : Regularizer
        One that provides ``normal`` (Q x), e.g. :class:`invscat.regularizers.Tikhonov`.
    lam : float
        Weight (>= 0), absolute; 0 gives plain least squares (CGNE, stopped by ``iters``).
    tol : float
        Stop when the normal-equation residual falls below ``tol`` times ||A^T y||.
    nonnegative : bool
        Not offered: CG solves an unconstrained quadratic (use :func:`pdhg` or :func:`fista`); True raises.
    x0, iters, callback, progress, reference, device
        As in :func:`invscat.solvers.pdhg`.

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from invscat.operators import Identity
    >>> from invscat.regularizers import Tikhonov
    >>> y = np.ones((8, 8), np.float32)
    >>> float(cg(Identity(y.shape), y, Tikhonov("identity"), 1.0).image.mean())  # (1 + lam) x = y
    0.5
    """
    check_weight(lam)
    regularizer.require("normal", "CG")
    if nonnegative:
        raise ValueError("CG solves an unconstrained quadratic; use pdhg or fista for x >= 0.")
    yt, as_numpy = as_tensor(y, device)
    monitor = Monitor(f"cg-{regularizer.name}", iters, reference=reference, callback=callback, progress=progress)
    rhs = A.adjoint(yt)
    x = starting_point(x0, yt, lambda: torch.zeros_like(rhs))
    y_norm = torch.linalg.vector_norm(yt).clamp_min(1e-30)

    stopped = []

    def record(x, step):
        misfit = torch.linalg.vector_norm(A(x) - yt)
        objective = 0.5 * misfit ** 2 + lam * regularizer.value(x)
        if monitor.step(x, objective.item(), (misfit / y_norm).item()):
            stopped.append(True)
        return bool(stopped)

    x, count = conjugate_gradient(lambda v: A.adjoint(A(v)) + lam * regularizer.normal(v), rhs, x,
                                  iters=monitor.iters, tol=tol, hook=record)
    monitor.result.converged = count < monitor.iters and not stopped
    return monitor.finish(x, as_numpy)
