"""The 2D wavelet scattering transform and its filter bank."""

from invscat.scattering.filters import filter_bank
from invscat.scattering.transform import Scattering2D

__all__ = ["Scattering2D", "filter_bank"]
