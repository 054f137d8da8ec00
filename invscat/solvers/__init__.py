"""Solvers: least squares (CG), FISTA, primal-dual TV, gradient descent (Adam / L-BFGS), and the CT baselines.

Every iterative solver returns a :class:`SolverResult`."""

from invscat.solvers.cg import conjugate_gradient
from invscat.solvers.fista import fista
from invscat.solvers.gradient import minimize, variational
from invscat.solvers.pdhg import pdhg_tv
from invscat.solvers.result import SolverResult
from invscat.solvers.scattering import scattering_solve
from invscat.solvers.tikhonov import cg_tikhonov
from invscat.solvers.tomography import cgls, fbp, sirt

__all__ = ["SolverResult", "conjugate_gradient", "cg_tikhonov", "fista", "pdhg_tv", "minimize", "variational", "fbp",
           "sirt", "cgls", "scattering_solve"]
