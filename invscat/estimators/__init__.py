"""Estimators learned from training pairs: pixel-domain best linear estimators and scattering-domain ridge,
convolutional and restoration estimators, and their ensembles."""

from invscat.estimators.convolutional import ConvolutionalEstimator
from invscat.estimators.ensemble import EnsembleEstimator
from invscat.estimators.linear import LearnedFBP, LinearSuperResolution
from invscat.estimators.restoration import RestorationEstimator
from invscat.estimators.scattering import ScatteringEstimator

__all__ = ["LinearSuperResolution", "LearnedFBP", "ScatteringEstimator", "ConvolutionalEstimator",
           "EnsembleEstimator", "RestorationEstimator"]
