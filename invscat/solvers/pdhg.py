"""Primal-dual hybrid gradient (Chambolle & Pock 2011, Algorithm 1) for total-variation regularised least squares."""

from __future__ import annotations

import torch

from invscat.operators.base import LinearOperator
from invscat.regularizers.tv import GRADIENT_NORM, TotalVariation, divergence, gradient
from invscat.solvers.result import Monitor, SolverResult, as_tensor, check_weight, starting_point


def pdhg_tv(A: LinearOperator, y, lam: float, *, iters: int = 300, nonnegative: bool = False, isotropic: bool = True,
            balance: float = 10.0, x0=None, tol: float = 1e-5, reference=None, callback=None,
            progress: bool = False, device=None) -> SolverResult:
    """Minimise 0.5 ||A x - y||^2 + lam TV(x) (+ the constraint x >= 0) by Chambolle-Pock.

    The problem is split as F(K x) + G(x) with K = [A / ||A||; grad], F the data term and lam ||.||_{2,1}
    and G the non-negativity indicator. Scaling A by its norm (and y and lam to match) gives ||K|| <= 3
    whatever the operator; the steps tau = 0.99 b / ||K|| and sigma = 0.99 / (b ||K||) satisfy
    tau sigma ||K||^2 < 1 for any balance b. b = 10 (a large primal step) converged in about 300 iterations on
    both super-resolution and sparse-view CT, where b = 1 needed over 1000.
    Each iteration costs one A and one A^T (A of the extrapolated point follows by linearity).

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : ndarray or torch.Tensor
        Measurement of shape ``A.range_shape`` (or a batch of them, solved jointly).
    lam : float
        TV weight (>= 0).
    iters : int
        Maximum iterations.
    nonnegative : bool
        Constrain x >= 0 (CT attenuation).
    isotropic : bool
        Isotropic or anisotropic TV.
    balance : float
        Ratio of primal to dual step size.
    x0 : array, optional
        Starting image (default A^T y / ||A||^2).
    tol : float
        Stop when ||x_k - x_{k-1}|| / ||x_k|| < tol.
    reference : array, optional
        Ground truth for the PSNR history.
    callback : callable, optional
        ``callback(k, x, info)``; returning True stops the solver.
    progress : bool
        Show a progress bar when stderr is a terminal.
    device : torch.device, optional
        Where to iterate (the measurement's device by default).

    Returns
    -------
    SolverResult
    """
    check_weight(lam)
    yt, as_numpy = as_tensor(y, device)
    monitor = Monitor("pdhg-tv", iters, tol=tol, reference=reference, callback=callback, progress=progress)
    tv = TotalVariation(isotropic=isotropic)
    c = A.norm()
    y_scaled, lam_scaled = yt / c, lam / c ** 2
    if not balance > 0:
        raise ValueError(f"the step balance must be > 0, got {balance}.")
    norm_K = (1 + GRADIENT_NORM ** 2) ** 0.5
    tau, sigma = 0.99 * balance / norm_K, 0.99 / (balance * norm_K)
    x = starting_point(x0, yt, lambda: A.adjoint(yt) / c ** 2)
    if nonnegative:
        x = x.clamp_min(0)
    Ax = A(x) / c
    p = torch.zeros_like(yt)
    q = gradient(torch.zeros_like(x))
    x_bar, Ax_bar = x, Ax
    y_norm = torch.linalg.vector_norm(y_scaled).clamp_min(1e-30)
    for _ in range(monitor.iters):
        p = (p + sigma * (Ax_bar - y_scaled)) / (1 + sigma)
        q = tv.project_dual(q + sigma * gradient(x_bar), lam_scaled) if lam_scaled > 0 else q
        x_new = x - tau * (A.adjoint(p) / c - divergence(q))
        if nonnegative:
            x_new = x_new.clamp_min(0)
        Ax_new = A(x_new) / c
        x_bar, Ax_bar = 2 * x_new - x, 2 * Ax_new - Ax
        x, Ax = x_new, Ax_new
        misfit = torch.linalg.vector_norm(Ax - y_scaled)
        objective = c ** 2 * (0.5 * misfit ** 2 + lam_scaled * tv.value(x))
        if monitor.step(x, objective.item(), (misfit / y_norm).item()):
            break
    return monitor.finish(x, as_numpy)
