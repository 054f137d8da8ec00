"""Gradient-based minimisation of smooth objectives (L-BFGS, Adam), on whatever device the image lives on."""

from __future__ import annotations

from typing import Callable

import torch

from invscat.solvers.result import Monitor, SolverResult, as_tensor, check_weight, starting_point

GRADIENT_METHODS = ("lbfgs", "adam")
LINE_SEARCH_EVALUATIONS = 24  # at most, per L-BFGS iteration (torch's default with its max_iter=20)


def minimize(objective: Callable[[torch.Tensor], torch.Tensor], x0, *, method: str = "lbfgs", iters: int = 100,
             lr: float | None = None, schedule: str | None = None, nonnegative: bool = False, tol: float = 1e-6,
             residual: Callable[[torch.Tensor], float] | None = None, reference=None, callback=None,
             progress: bool = False, name: str | None = None) -> SolverResult:
    """Minimise a differentiable scalar ``objective(x)`` from ``x0`` with L-BFGS or Adam.

    The engine behind :func:`gradient_descent` and the scattering inversion; objectives that are not of the
    form data term + regulariser come here directly.

    Parameters
    ----------
    objective : callable
        Tensor -> scalar tensor, differentiable by autograd.
    x0 : ndarray or torch.Tensor
        Starting point; the result has its type, shape and device.
    method : {'lbfgs', 'adam'}
        L-BFGS with a strong-Wolfe line search (one iteration = one quasi-Newton step), or Adam.
    iters : int
        Maximum iterations.
    lr : float, optional
        Step size: 1 for L-BFGS, 0.01 for Adam by default.
    schedule : {None, 'cosine'}
        Adam only: 'cosine' decays the step from ``lr`` to 0 over ``iters`` (Loshchilov & Hutter 2017).
    nonnegative : bool
        Project onto x >= 0 after every step.
    tol : float
        Stop when the relative change of x falls below ``tol``.
    residual : callable, optional
        x -> relative data residual, recorded per iteration.
    reference, callback, progress
        As in :func:`invscat.solvers.pdhg`.

    Returns
    -------
    SolverResult
    """
    if method not in GRADIENT_METHODS:
        raise ValueError(f"unknown gradient method {method!r}; expected one of {', '.join(GRADIENT_METHODS)}.")
    if schedule not in (None, "cosine"):
        raise ValueError(f"unknown step schedule {schedule!r}; expected None or 'cosine'.")
    start, as_numpy = as_tensor(x0)
    x = start.detach().clone().requires_grad_(True)
    monitor = Monitor(name or method, iters, tol=tol, reference=reference, callback=callback, progress=progress)
    if method == "lbfgs":
        # torch's own gradient and change tolerances are absolute; stopping is left to the monitor's relative tol.
        # max_eval: torch's default for max_iter=1 (1) leaves its line search no evaluation beyond the first trial
        # step, so an iteration whose unit step failed the Wolfe conditions did not move.
        optimizer = torch.optim.LBFGS([x], lr=lr or 1.0, max_iter=1, max_eval=LINE_SEARCH_EVALUATIONS + 1,
                                      history_size=20, line_search_fn="strong_wolfe", tolerance_grad=0.0,
                                      tolerance_change=0.0)
    else:
        optimizer = torch.optim.Adam([x], lr=lr or 0.01)
    decay = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(iters, 1))
             if schedule == "cosine" and method == "adam" else None)

    recent = []  # L-BFGS: the latest (point, value, gradient) evaluations

    def closure():
        # torch's L-BFGS, stepped one iteration at a time, starts each step by evaluating the point its previous
        # line search accepted (and had evaluated): served from here, that halves the evaluations
        for point, value, gradient in recent:
            if torch.equal(point, x):
                x.grad = gradient.clone()
                return value
        optimizer.zero_grad(set_to_none=True)
        value = objective(x)
        value.backward()
        if method == "lbfgs":
            recent.insert(0, (x.detach().clone(), value.detach(), x.grad.detach().clone()))
            del recent[3:]
        return value

    for _ in range(monitor.iters):
        value = optimizer.step(closure)
        if decay is not None:
            decay.step()
        if nonnegative:
            with torch.no_grad():
                x.clamp_(min=0)
        if not torch.isfinite(value):
            raise FloatingPointError(f"{method} diverged (objective {value.item()}); lower the step size.")
        with torch.no_grad():
            # the objective at the start of the step (a step's closure evaluates it anyway): evaluating it again at
            # the new point cost a forward pass per iteration, 20-25% of the scattering method's time
            current = objective(x).item() if nonnegative else value.item()
            misfit = residual(x) if residual is not None else float("nan")
        if monitor.step(x.detach(), current, misfit):
            break
    return monitor.finish(x, as_numpy)


def gradient_descent(A, y, regularizer, lam: float, *, x0=None, iters: int = 100, tol: float = 1e-6,
                     nonnegative: bool = False, callback=None, progress: bool = False, reference=None,
                     device=None, method: str = "lbfgs", lr: float | None = None,
                     schedule: str | None = None) -> SolverResult:
    """Minimise 0.5 ||A x - y||^2 + lam R(x) with R's smooth value, by L-BFGS or Adam (:func:`minimize`).

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : ndarray or torch.Tensor
        Measurement; the image is computed on its device (or ``device``).
    regularizer : Regularizer
        One that provides ``smooth_value``; a sum such as ``ScatteringRegularizer + w * TotalVariation(eps)``.
    lam : float
        Regularisation weight (>= 0), absolute.
    x0 : array, optional
        Starting image (default A^T y / ||A||^2).
    nonnegative : bool
        Project onto x >= 0 after every step.
    method, lr, schedule
        As in :func:`minimize`.
    iters, tol, callback, progress, reference, device
        As in :func:`invscat.solvers.pdhg`.

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from invscat.operators import Identity
    >>> from invscat.regularizers import TotalVariation
    >>> y = np.zeros((16, 16), np.float32); y[4:12, 4:12] = 1
    >>> gradient_descent(Identity(y.shape), y, TotalVariation(), 0.1, iters=10).image.shape
    (16, 16)
    """
    check_weight(lam)
    regularizer.require("smooth_value", "a gradient solver")
    yt, as_numpy = as_tensor(y, device)
    start = starting_point(x0, yt, lambda: A.adjoint(yt) / A.norm() ** 2)
    y_norm = torch.linalg.vector_norm(yt).clamp_min(1e-30)

    def objective(x):
        return 0.5 * torch.sum((A(x) - yt) ** 2) + lam * regularizer.smooth_value(x)

    def residual(x):
        return (torch.linalg.vector_norm(A(x) - yt) / y_norm).item()

    result = minimize(objective, start, method=method, iters=iters, lr=lr, schedule=schedule, nonnegative=nonnegative,
                      tol=tol, residual=residual, reference=reference, callback=callback, progress=progress,
                      name=f"{method}-{regularizer.name}")
    if as_numpy:
        result.image = result.image.cpu().numpy()
    return result
