"""Tikhonov regularisation: half the squared norm of the image or of its gradient."""

from __future__ import annotations

import torch

from invscat.linalg import conjugate_gradient
from invscat.regularizers.base import Regularizer
from invscat.regularizers.tv import divergence, gradient

TIKHONOV_OPERATORS = ("identity", "gradient")


class Tikhonov(Regularizer):
    """R(x) = 0.5 ||L x||^2 with L the identity or the finite-difference gradient.

    Parameters
    ----------
    operator : {'identity', 'gradient'}
        'gradient' (default) penalises roughness, ||grad x||^2 (a Sobolev H^1 prior); 'identity' the energy.
    """

    name = "tikhonov"

    def __init__(self, operator: str = "gradient"):
        if operator not in TIKHONOV_OPERATORS:
            raise ValueError(f"unknown Tikhonov operator {operator!r}; expected one of {', '.join(TIKHONOV_OPERATORS)}.")
        self.operator = operator

    def normal(self, x: torch.Tensor) -> torch.Tensor:
        """L^T L x, the regulariser's term in the normal equations."""
        return x if self.operator == "identity" else -divergence(gradient(x))

    def value(self, x: torch.Tensor) -> torch.Tensor:
        Lx = x if self.operator == "identity" else gradient(x)
        return 0.5 * (Lx * Lx).sum()

    smooth_value = value

    def prox(self, x: torch.Tensor, tau: float) -> torch.Tensor:
        """argmin_z 0.5 ||z - x||^2 + tau R(z): a scaling for 'identity', a few CG steps for 'gradient'."""
        if self.operator == "identity":
            return x / (1 + tau)
        return conjugate_gradient(lambda v: v + tau * self.normal(v), x, x, iters=50, tol=1e-6)[0]
