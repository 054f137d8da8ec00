"""Solvers for the reconstruction problems."""

from invscat.solvers.cg import conjugate_gradient
from invscat.solvers.tomography import cgls, fbp, sirt

__all__ = ["conjugate_gradient", "fbp", "sirt", "cgls"]
