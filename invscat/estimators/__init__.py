"""Estimators learned from training pairs: pixel-domain best linear estimators and scattering-domain ridge
and convolutional estimators, and their ensembles."""

from invscat.estimators.convolutional import ConvolutionalEstimator
from invscat.estimators.ensemble import EnsembleEstimator
from invscat.estimators.linear import LearnedFBP, LinearSuperResolution
from invscat.estimators.scattering import ScatteringEstimator

__all__ = ["LinearSuperResolution", "LearnedFBP", "ScatteringEstimator", "ConvolutionalEstimator",
           "EnsembleEstimator"]
