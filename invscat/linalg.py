"""The ground floor of linear algebra: the one conjugate-gradient method, used by ``LinearOperator.lstsq``, the
Tikhonov prox and the Tikhonov solver. It imports nothing from invscat."""

from __future__ import annotations

from typing import Callable

import torch


def conjugate_gradient(apply: Callable[[torch.Tensor], torch.Tensor], rhs: torch.Tensor, x0: torch.Tensor | None = None,
                       iters: int = 100, tol: float = 1e-6,
                       hook: Callable[[torch.Tensor, torch.Tensor], bool | None] | None = None
                       ) -> tuple[torch.Tensor, int]:
    """Solve ``apply(x) = rhs`` for a symmetric positive semi-definite ``apply`` (Hestenes & Stiefel 1952).

    Parameters
    ----------
    apply : callable
        The linear map, tensor -> tensor of the same shape.
    rhs : torch.Tensor
        Right-hand side. A batch is solved as one block-diagonal system.
    x0 : torch.Tensor, optional
        Starting point (zeros by default).
    iters : int
        Maximum number of iterations.
    tol : float
        Stop when the residual norm falls below ``tol`` times the norm of ``rhs``.
    hook : callable, optional
        Called as ``hook(x, p)`` after each iteration with the iterate and the search direction of that step;
        returning True stops the iteration.

    Returns
    -------
    x : torch.Tensor
    iterations : int
        Iterations run.

    Examples
    --------
    >>> import torch
    >>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]])
    >>> x, _ = conjugate_gradient(lambda v: A @ v, torch.tensor([1.0, 2.0]))
    >>> torch.allclose(A @ x, torch.tensor([1.0, 2.0]))
    True
    """
    x = torch.zeros_like(rhs) if x0 is None else x0.clone()
    r = rhs - apply(x) if x0 is not None else rhs.clone()
    p = r.clone()
    rr = torch.sum(r * r)
    stop = (tol * torch.linalg.vector_norm(rhs)) ** 2
    for k in range(iters):
        if rr <= stop:
            return x, k
        Ap = apply(p)
        alpha = rr / torch.sum(p * Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        step = alpha * p
        rr_new = torch.sum(r * r)
        p = r + (rr_new / rr) * p
        rr = rr_new
        if hook is not None and hook(x, step):
            return x, k + 1
    return x, iters


class NormalEquations:
    """Running sums G = X^T X and R = X^T Y of a linear least-squares fit, accumulated batch by batch, and their
    ridge solution (G + ridge mean(diag G) I)^{-1} R, in float64.

    Examples
    --------
    >>> import torch
    >>> X = torch.randn(50, 3, dtype=torch.float64)
    >>> equations = NormalEquations()
    >>> equations.add(X[:20], X[:20] @ torch.ones(3, 1, dtype=torch.float64))
    >>> equations.add(X[20:], X[20:] @ torch.ones(3, 1, dtype=torch.float64))
    >>> torch.allclose(equations.solve(0.0), torch.ones(3, 1, dtype=torch.float64))
    True
    """

    def __init__(self):
        self.gram = self.rhs = None

    def add(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        """Add the rows of features X (n, p) and targets Y (n, q)."""
        gram, rhs = features.T @ features, features.T @ targets
        self.gram = gram if self.gram is None else self.gram + gram
        self.rhs = rhs if self.rhs is None else self.rhs + rhs

    def solve(self, ridge: float) -> torch.Tensor:
        """The weights (p, q), with a ridge relative to the mean diagonal of G."""
        if self.gram is None:
            raise ValueError("no training pairs yet: call fit() or partial_fit() first.")
        scale = ridge * torch.diagonal(self.gram).mean().clamp_min(1e-30)
        return torch.linalg.solve(self.gram + scale * torch.eye(self.gram.shape[0], dtype=self.gram.dtype), self.rhs)
