"""Regularisers R(x) for 0.5 ||A x - y||^2 + lam R(x): each gives ``value``, a differentiable ``smooth_value``
for gradient solvers, and ``prox`` for proximal ones."""

from invscat.regularizers.scattering import ScatteringRegularizer
from invscat.regularizers.tikhonov import Tikhonov
from invscat.regularizers.tv import TotalVariation, divergence, gradient
from invscat.regularizers.wavelet import WaveletL1

__all__ = ["TotalVariation", "WaveletL1", "Tikhonov", "ScatteringRegularizer", "gradient", "divergence"]
