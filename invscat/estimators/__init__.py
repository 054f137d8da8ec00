"""Estimators learned from training pairs: pixel-domain best linear estimators and scattering-domain ridge
and convolutional estimators."""

from invscat.estimators.convolutional import ConvolutionalEstimator
from invscat.estimators.linear import LearnedFBP, LinearSuperResolution
from invscat.estimators.scattering import ScatteringEstimator

__all__ = ["LinearSuperResolution", "LearnedFBP", "ScatteringEstimator", "ConvolutionalEstimator"]
