"""Forward operators with exact adjoints: blur + decimation, the Radon transform (ASTRA), and their algebra."""

from invscat.operators.base import Adjoint, Composition, Identity, LinearOperator, Scaled, Sum
from invscat.operators.downsample import Blur, Downsample, make_kernel
from invscat.operators.radon import Radon, limited_angle, sparse_view

__all__ = ["LinearOperator", "Adjoint", "Composition", "Sum", "Scaled", "Identity", "Downsample", "Blur", "make_kernel", "Radon",
           "sparse_view", "limited_angle"]
