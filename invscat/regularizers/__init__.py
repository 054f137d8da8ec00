"""Regularisers R(x) for 0.5 ||A x - y||^2 + lam R(x), behind one protocol (:mod:`invscat.regularizers.base`):
each gives ``value`` and says which of ``smooth_value``, ``prox``, ``normal`` and the dual splitting it provides;
``R1 + w * R2`` is their weighted sum."""

from invscat.regularizers.base import Regularizer, WeightedSum
from invscat.regularizers.scattering import ScatteringRegularizer
from invscat.regularizers.tikhonov import Tikhonov
from invscat.regularizers.tv import TotalVariation, divergence, gradient
from invscat.regularizers.wavelet import WaveletL1

__all__ = ["Regularizer", "WeightedSum", "TotalVariation", "WaveletL1", "Tikhonov", "ScatteringRegularizer",
           "gradient", "divergence"]
