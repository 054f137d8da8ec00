"""Reconstruction with a scattering-domain prior (Dokmanic, Bruna, Mallat & de Hoop 2016):

    min_x  0.5 ||A x - y||^2 + lam R_S(x) + mu TV_eps(x),

R_S a :class:`invscat.regularizers.ScatteringRegularizer` whose target comes from a scattering-domain estimator,
TV_eps the smoothed total variation, solved by L-BFGS from a first reconstruction (on its device)."""

from __future__ import annotations

import torch

from invscat.regularizers.scattering import ScatteringRegularizer
from invscat.regularizers.tv import TotalVariation
from invscat.solvers.gradient import minimize
from invscat.solvers.result import SolverResult, as_tensor, check_weight


def scattering_solve(A, y, regularizer: ScatteringRegularizer, lam: float, x0, *, mu: float = 0.0, iters: int = 100,
                     tv_eps: float = 1e-3, nonnegative: bool = False, **options) -> SolverResult:
    """Minimise 0.5 ||A x - y||^2 + lam R_S(x) + mu TV_eps(x) by L-BFGS from ``x0``.

    Parameters
    ----------
    A : LinearOperator
        Forward operator.
    y : ndarray or torch.Tensor
        Measurement; the image is computed on its device.
    regularizer : ScatteringRegularizer
        R_S, with its target.
    lam, mu : float
        Weights of R_S and of the smoothed TV (0: no TV term).
    x0 : ndarray or torch.Tensor
        The first reconstruction the estimator saw; the start.
    iters : int
        L-BFGS iterations.
    tv_eps : float
        TV smoothing (see :class:`invscat.regularizers.TotalVariation`).
    nonnegative : bool
        Clip the result at 0 (the objective itself is unconstrained).
    **options
        ``tol``, ``reference``, ``callback``, ``progress`` as in :func:`invscat.solvers.minimize`.

    Returns
    -------
    SolverResult
    """
    check_weight(lam)
    check_weight(mu)
    yt, as_numpy = as_tensor(y)
    start, _ = as_tensor(x0)
    start = start.to(yt.device)
    tv = TotalVariation(eps=tv_eps)
    y_norm = torch.linalg.vector_norm(yt).clamp_min(1e-30)

    def objective(x):
        value = 0.5 * torch.sum((A(x) - yt) ** 2) + lam * regularizer.value(x)
        return value + mu * tv.smooth_value(x) if mu else value

    def residual(x):
        return (torch.linalg.vector_norm(A(x) - yt) / y_norm).item()

    options.setdefault("tol", 1e-5)
    result = minimize(objective, start, method="lbfgs", iters=iters, residual=residual, name="scattering", **options)
    if nonnegative:
        result.image = result.image.clamp_min(0)
    if as_numpy:
        result.image = result.image.cpu().numpy()
    return result
