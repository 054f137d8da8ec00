"""Estimators learned from training pairs: pixel-domain best linear estimators (and, later, scattering-domain ones)."""

from invscat.estimators.linear import LearnedFBP, LinearSuperResolution

__all__ = ["LinearSuperResolution", "LearnedFBP"]
