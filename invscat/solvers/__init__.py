"""Solvers for 0.5 ||A x - y||^2 + lam R(x), all with one signature,

    solver(A, y, regularizer, lam, *, x0, iters, tol, nonnegative, callback, progress, reference, device)

``lam`` absolute, ``nonnegative`` a projection, each naming the regulariser capability it needs: :func:`pdhg`
(the dual splitting: TV), :func:`fista` (a prox: wavelet l1), :func:`cg` (a quadratic: Tikhonov),
:func:`gradient_descent` (a smooth value: L-BFGS / Adam, scattering priors). Beside them :func:`minimize` for any
smooth objective, and the CT baselines FBP, SIRT and CGLS. Every iterative solver returns a
:class:`SolverResult`."""

from invscat.solvers.cg import cg
from invscat.solvers.fista import fista
from invscat.solvers.gradient import gradient_descent, minimize
from invscat.solvers.pdhg import pdhg
from invscat.solvers.result import SolverResult
from invscat.solvers.tomography import cgls, fbp, sirt

__all__ = ["SolverResult", "pdhg", "fista", "cg", "gradient_descent", "minimize", "fbp", "sirt", "cgls"]
