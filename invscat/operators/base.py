"""Linear operators with adjoints, usable on numpy arrays and (batched, differentiable) torch tensors."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from invscat.linalg import conjugate_gradient


class LinearOperator:
    """A linear map between image-shaped spaces, with its adjoint.

    Subclasses set ``domain_shape`` and ``range_shape`` and implement ``_forward`` and ``_adjoint`` on torch
    tensors of shape ``(B, *shape)``. Operators whose backend is not torch (ASTRA) set ``torch_native = False``:
    they are then wrapped in an autograd function whose backward pass is the adjoint.

    Calling ``A(x)`` and ``A.adjoint(y)`` accepts any leading batch dimensions, and numpy arrays (returned as
    numpy). Operators form an algebra: ``A @ B`` (composition), ``A + B``, ``A - B``, ``c * A``, ``A.T``.

    Examples
    --------
    >>> import numpy as np
    >>> from invscat.operators import Downsample
    >>> A = Downsample((64, 64), factor=2)
    >>> A(np.ones((64, 64), np.float32)).shape
    (32, 32)
    >>> A.adjoint_test() < 1e-5
    True
    """

    domain_shape: tuple
    range_shape: tuple
    torch_native = True

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- application ----------------------------------------------------------------------------------------

    def __call__(self, x):
        """Apply the operator to ``x`` of shape ``(..., *domain_shape)``."""
        return self._apply(x, adjoint=False)

    def adjoint(self, y):
        """Apply the adjoint to ``y`` of shape ``(..., *range_shape)``."""
        return self._apply(y, adjoint=True)

    def _apply(self, x, adjoint: bool):
        is_numpy = isinstance(x, np.ndarray)
        if not is_numpy and not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a numpy array or torch tensor, got {type(x).__name__}.")
        t = torch.from_numpy(np.ascontiguousarray(x)) if is_numpy else x
        if not t.is_floating_point():
            raise TypeError(f"{type(self).__name__} expects floating-point input, got dtype {t.dtype}.")
        in_shape, out_shape = (self.range_shape, self.domain_shape) if adjoint else (self.domain_shape, self.range_shape)
        n = len(in_shape)
        if t.ndim < n or tuple(t.shape[t.ndim - n:]) != tuple(in_shape):
            what = "the adjoint of " if adjoint else ""
            raise ValueError(f"{what}{type(self).__name__} expects input of shape (..., {', '.join(map(str, in_shape))}), "
                             f"got {tuple(t.shape)}.")
        batch = t.shape[:t.ndim - n]
        flat = t.reshape(-1, *in_shape)
        if self.torch_native:
            out = self._adjoint(flat) if adjoint else self._forward(flat)
        else:
            out = _ExternalLinear.apply(flat, self, adjoint)
        out = out.reshape(*batch, *out_shape)
        return out.numpy() if is_numpy else out

    # -- algebra --------------------------------------------------------------------------------------------

    @property
    def T(self) -> "LinearOperator":
        """The adjoint operator."""
        return Adjoint(self)

    def __matmul__(self, other):
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Composition(self, other)

    def __add__(self, other):
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Sum(self, other)

    def __sub__(self, other):
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Sum(self, Scaled(other, -1.0))

    def __mul__(self, scalar):
        if not isinstance(scalar, numbers.Real):
            return NotImplemented
        return Scaled(self, float(scalar))

    __rmul__ = __mul__

    def __neg__(self):
        return Scaled(self, -1.0)

    # -- analysis -------------------------------------------------------------------------------------------

    def norm(self, iters: int = 100, tol: float = 1e-6, seed: int = 0) -> float:
        """Operator norm ||A||_2 by power iteration on A^T A (cached after the first call).

        Returns
        -------
        float
            The largest singular value, to relative accuracy about ``tol``.
        """
        cached = getattr(self, "_norm_cache", None)
        if cached is not None:
            return cached
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(self.domain_shape, generator=generator, dtype=torch.float64)
        x /= torch.linalg.vector_norm(x)
        estimate = 0.0
        for _ in range(iters):
            y = self._apply(self._apply(x.float(), False), True).double()
            new = torch.linalg.vector_norm(y).item()
            if new == 0:
                break
            x = y / new
            if abs(new - estimate) <= tol * new:
                estimate = new
                break
            estimate = new
        self._norm_cache = float(np.sqrt(estimate))
        return self._norm_cache

    def adjoint_test(self, seed: int = 0, dtype=torch.float64) -> float:
        """Relative error of the adjoint identity <A x, y> = <x, A^T y> for random x and y."""
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(self.domain_shape, generator=generator, dtype=dtype)
        y = torch.randn(self.range_shape, generator=generator, dtype=dtype)
        lhs = torch.sum(self(x).to(dtype) * y).item()
        rhs = torch.sum(x * self.adjoint(y).to(dtype)).item()
        return abs(lhs - rhs) / max(abs(lhs), abs(rhs), 1e-30)

    def lstsq(self, y, lam: float = 0.0, x0=None, iters: int = 100, tol: float = 1e-6):
        """Least-squares solution of min ||A x - y||^2 + lam ||x||^2 by CG on the normal equations.

        Parameters
        ----------
        y : ndarray or torch.Tensor
            Measurement(s), shape ``(..., *range_shape)``.
        lam : float
            Tikhonov weight (>= 0).
        x0 : array, optional
            Starting point.
        iters, tol : int, float
            CG iteration limit and relative residual tolerance.
        """
        if lam < 0:
            raise ValueError(f"the Tikhonov weight must be >= 0, got {lam}.")
        is_numpy = isinstance(y, np.ndarray)
        yt = torch.from_numpy(np.ascontiguousarray(y)) if is_numpy else y
        start = None if x0 is None else torch.as_tensor(x0, dtype=yt.dtype)
        x, _ = conjugate_gradient(lambda v: self.adjoint(self(v)) + lam * v, self.adjoint(yt), start, iters, tol)
        return x.numpy() if is_numpy else x

    def __repr__(self):
        return f"{type(self).__name__}({self.domain_shape} -> {self.range_shape})"


class _ExternalLinear(torch.autograd.Function):
    """Autograd for operators computed outside torch: the backward pass of a linear map is its adjoint."""

    @staticmethod
    def forward(ctx, x, operator, adjoint):
        ctx.operator, ctx.adjoint = operator, adjoint
        return operator._adjoint(x) if adjoint else operator._forward(x)

    @staticmethod
    def backward(ctx, grad):
        op = ctx.operator
        return (op._forward(grad) if ctx.adjoint else op._adjoint(grad)), None, None


class Adjoint(LinearOperator):
    """The adjoint A^T of an operator."""

    def __init__(self, operator: LinearOperator):
        self.operator = operator
        self.domain_shape, self.range_shape = operator.range_shape, operator.domain_shape

    def _forward(self, x):
        return self.operator.adjoint(x)

    def _adjoint(self, y):
        return self.operator(y)

    @property
    def T(self):
        return self.operator


class Composition(LinearOperator):
    """A @ B: apply B, then A."""

    def __init__(self, outer: LinearOperator, inner: LinearOperator):
        if tuple(outer.domain_shape) != tuple(inner.range_shape):
            raise ValueError(f"cannot compose: {type(inner).__name__} maps to {inner.range_shape} but "
                             f"{type(outer).__name__} expects {outer.domain_shape}.")
        self.outer, self.inner = outer, inner
        self.domain_shape, self.range_shape = inner.domain_shape, outer.range_shape

    def _forward(self, x):
        return self.outer(self.inner(x))

    def _adjoint(self, y):
        return self.inner.adjoint(self.outer.adjoint(y))


class Sum(LinearOperator):
    """A + B on the same spaces."""

    def __init__(self, first: LinearOperator, second: LinearOperator):
        if (tuple(first.domain_shape), tuple(first.range_shape)) != (tuple(second.domain_shape), tuple(second.range_shape)):
            raise ValueError(f"cannot add operators of shapes {first.domain_shape} -> {first.range_shape} and "
                             f"{second.domain_shape} -> {second.range_shape}.")
        self.first, self.second = first, second
        self.domain_shape, self.range_shape = first.domain_shape, first.range_shape

    def _forward(self, x):
        return self.first(x) + self.second(x)

    def _adjoint(self, y):
        return self.first.adjoint(y) + self.second.adjoint(y)


class Scaled(LinearOperator):
    """c * A for a real scalar c."""

    def __init__(self, operator: LinearOperator, scale: float):
        self.operator, self.scale = operator, scale
        self.domain_shape, self.range_shape = operator.domain_shape, operator.range_shape

    def _forward(self, x):
        return self.scale * self.operator(x)

    def _adjoint(self, y):
        return self.scale * self.operator.adjoint(y)


class Identity(LinearOperator):
    """The identity on images of a given shape."""

    def __init__(self, shape):
        self.domain_shape = self.range_shape = tuple(shape)

    def _forward(self, x):
        return x

    def _adjoint(self, y):
        return y
