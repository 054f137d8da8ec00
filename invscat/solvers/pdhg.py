"""Primal-dual hybrid gradient (Chambolle & Pock 2011, Algorithm 1) for least squares plus a regulariser of the
form ||K x|| (total variation and any other with the dual splitting of :mod:`invscat.regularizers.base`)."""

from __future__ import annotations

import torch

from invscat.operators.base import LinearOperator
from invscat.solvers.result import Monitor, SolverResult, as_tensor, check_weight, starting_point


def pdhg(A: LinearOperator, y, regularizer, lam: float, *, x0=None, iters: int = 300, tol: float = 1e-5,
         nonnegative: bool = False, callback=None, progress: bool = False, reference=None, device=None,
         balance: float = 10.0) -> SolverResult:
    """Minimise 0.5 ||A x - y||^2 + lam ||K x|| (+ the constraint x >= 0) by Chambolle-Pock.

    The problem is split as F(K' x) + G(x) with K' = [A / ||A||; K], F the data term and lam ||.||, G the
    non-negativity indicator. Scaling A by its norm (and y and lam to match) gives ||K'||^2 <= 1 + ||K||^2
    whatever the operator; the steps tau = 0.99 b / ||K'|| and sigma = 0.99 / (b ||K'||) satisfy
    tau sigma ||K'||^2 < 1 for any balance b. b = 10 (a large primal step) converged in about 300 iterations on
    both super-resolution and sparse-view CT with TV, where b = 1 needed over 1000.
    Each iteration costs one A and one A^T (A of the extrapolated point follows by linearity).

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : ndarray or torch.Tensor
        Measurement of shape ``A.range_shape`` (or a batch of them, solved jointly).
    regularizer : Regularizer
        One with the dual splitting (``analysis``, ``analysis_adjoint``, ``project_dual``, ``analysis_norm``),
        e.g. :class:`invscat.regularizers.TotalVariation`.
    lam : float
        Regularisation weight (>= 0), absolute.
    x0 : array, optional
        Starting image (default A^T y / ||A||^2).
    iters : int
        Maximum iterations.
    tol : float
        Stop when ||x_k - x_{k-1}|| / ||x_k|| < tol.
    nonnegative : bool
        Project onto x >= 0 at every step (CT attenuation).
    callback : callable, optional
        ``callback(k, x, info)``; returning True stops the solver.
    progress : bool
        Show a progress bar when stderr is a terminal.
    reference : array, optional
        Ground truth for the PSNR history.
    device : torch.device, optional
        Where to iterate (the measurement's device by default).
    balance : float
        Ratio of primal to dual step size.

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> import numpy as np
    >>> from invscat.operators import Identity
    >>> from invscat.regularizers import TotalVariation
    >>> y = np.zeros((16, 16), np.float32); y[4:12, 4:12] = 1
    >>> result = pdhg(Identity(y.shape), y, TotalVariation(), 0.1, iters=50)
    >>> result.image.shape, result.iterations <= 50
    ((16, 16), True)
    """
    check_weight(lam)
    regularizer.require("dual", "PDHG")
    if not balance > 0:
        raise ValueError(f"the step balance must be > 0, got {balance}.")
    yt, as_numpy = as_tensor(y, device)
    monitor = Monitor(f"pdhg-{regularizer.name}", iters, tol=tol, reference=reference, callback=callback,
                      progress=progress)
    c = A.norm()
    y_scaled, lam_scaled = yt / c, lam / c ** 2
    norm_K = (1 + regularizer.analysis_norm ** 2) ** 0.5
    tau, sigma = 0.99 * balance / norm_K, 0.99 / (balance * norm_K)
    x = starting_point(x0, yt, lambda: A.adjoint(yt) / c ** 2)
    if nonnegative:
        x = x.clamp_min(0)
    Ax = A(x) / c
    p = torch.zeros_like(yt)
    q = regularizer.analysis(torch.zeros_like(x))
    x_bar, Ax_bar = x, Ax
    y_norm = torch.linalg.vector_norm(y_scaled).clamp_min(1e-30)
    for _ in range(monitor.iters):
        p = (p + sigma * (Ax_bar - y_scaled)) / (1 + sigma)
        q = regularizer.project_dual(q + sigma * regularizer.analysis(x_bar), lam_scaled) if lam_scaled > 0 else q
        x_new = x - tau * (A.adjoint(p) / c + regularizer.analysis_adjoint(q))
        if nonnegative:
            x_new = x_new.clamp_min(0)
        Ax_new = A(x_new) / c
        x_bar, Ax_bar = 2 * x_new - x, 2 * Ax_new - Ax
        x, Ax = x_new, Ax_new
        misfit = torch.linalg.vector_norm(Ax - y_scaled)
        objective = c ** 2 * (0.5 * misfit ** 2 + lam_scaled * regularizer.value(x))
        if monitor.step(x, objective.item(), (misfit / y_norm).item()):
            break
    return monitor.finish(x, as_numpy)
