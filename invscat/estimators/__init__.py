"""Estimators learned from training pairs: pixel-domain best linear estimators and scattering-domain ridge
estimators."""

from invscat.estimators.linear import LearnedFBP, LinearSuperResolution
from invscat.estimators.scattering import ScatteringEstimator

__all__ = ["LinearSuperResolution", "LearnedFBP", "ScatteringEstimator"]
