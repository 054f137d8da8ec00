"""invscat: imaging inverse problems with the wavelet scattering transform."""

from importlib.metadata import PackageNotFoundError, version

from invscat.scattering import Scattering2D

try:
    __version__ = version("invscat")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["Scattering2D", "__version__"]
