"""Total variation (Rudin, Osher & Fatemi 1992): isotropic or anisotropic, with its prox and a smoothed form."""

from __future__ import annotations

import torch

from invscat.regularizers.base import Regularizer


def gradient(x: torch.Tensor) -> torch.Tensor:
    """Forward differences with a zero difference across the last row/column (Neumann boundary).

    (..., M, N) -> (..., 2, M, N), vertical then horizontal.
    """
    if x.requires_grad:  # autograd: no out= writes
        dy = torch.cat([x[..., 1:, :] - x[..., :-1, :], torch.zeros_like(x[..., :1, :])], dim=-2)
        dx = torch.cat([x[..., :, 1:] - x[..., :, :-1], torch.zeros_like(x[..., :, :1])], dim=-1)
        return torch.stack((dy, dx), dim=-3)
    # written in place into one output: about twice as fast on CPU as differences, zeros and a stack
    g = x.new_empty(*x.shape[:-2], 2, *x.shape[-2:])
    torch.sub(x[..., 1:, :], x[..., :-1, :], out=g[..., 0, :-1, :])
    g[..., 0, -1, :] = 0
    torch.sub(x[..., :, 1:], x[..., :, :-1], out=g[..., 1, :, :-1])
    g[..., 1, :, -1] = 0
    return g


def divergence(p: torch.Tensor) -> torch.Tensor:
    """The negative adjoint of :func:`gradient`: ``<gradient(x), p> = -<x, divergence(p)>``."""
    py, px = p[..., 0, :, :], p[..., 1, :, :]
    if p.requires_grad:
        zeros_row, zeros_col = torch.zeros_like(py[..., :1, :]), torch.zeros_like(px[..., :, :1])
        div_y = torch.cat([py[..., :-1, :], zeros_row], -2) - torch.cat([zeros_row, py[..., :-1, :]], -2)
        div_x = torch.cat([px[..., :, :-1], zeros_col], -1) - torch.cat([zeros_col, px[..., :, :-1]], -1)
        return div_y + div_x
    div = torch.empty_like(py)
    div[..., 0, :] = py[..., 0, :]
    torch.sub(py[..., 1:-1, :], py[..., :-2, :], out=div[..., 1:-1, :])
    div[..., -1, :] = -py[..., -2, :] if py.shape[-2] > 1 else 0
    div[..., :, :-1] += px[..., :, :-1]
    div[..., :, 1:] -= px[..., :, :-1]
    return div


GRADIENT_NORM = 8 ** 0.5  # ||gradient||_2 <= sqrt(8) in 2-D (Chambolle 2004, Theorem 3.1)


class TotalVariation(Regularizer):
    """``TV(x) = sum_pixels |grad x|``, the Euclidean norm of the gradient (isotropic) or its l1 norm (anisotropic).

    In the protocol of :mod:`invscat.regularizers.base` it is a norm of a linear map: ``analysis`` is the
    gradient, its adjoint minus the divergence, and the dual ball that of the pointwise l2 (isotropic) or
    l-infinity (anisotropic) norm, which is what PDHG needs.

    Parameters
    ----------
    isotropic : bool
        Isotropic (default) or anisotropic total variation.
    eps : float
        Smoothing of :meth:`smooth_value`, ``sqrt(|grad x|^2 + eps^2) - eps``, for gradient-based solvers.
    vectorial : bool
        Colour (vectorial) TV for images (C, M, N): the pointwise norm runs over the channels too, so edges are
        shared by the channels (Blomgren & Chan 1998; Bresson & Chan 2008) instead of placed channel by channel.
    """

    name = "tv"
    analysis_norm = GRADIENT_NORM

    def __init__(self, isotropic: bool = True, eps: float = 1e-3, vectorial: bool = False):
        if not eps > 0:
            raise ValueError(f"the TV smoothing eps must be > 0, got {eps}.")
        if vectorial and not isotropic:
            raise ValueError("vectorial TV is isotropic (one Euclidean norm over channels and directions).")
        self.isotropic, self.eps, self.vectorial = isotropic, float(eps), bool(vectorial)
        self._axes = (-4, -3) if vectorial else (-3,)

    @staticmethod
    def analysis(x: torch.Tensor) -> torch.Tensor:
        return gradient(x)

    @staticmethod
    def analysis_adjoint(p: torch.Tensor) -> torch.Tensor:
        return -divergence(p)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        g = gradient(x)
        return _pointwise_norm(g, axes=self._axes).sum() if self.isotropic else g.abs().sum()

    def smooth_value(self, x: torch.Tensor) -> torch.Tensor:
        g = gradient(x)
        squares = (g * g).sum(dim=self._axes) if self.isotropic else g * g
        return (torch.sqrt(squares + self.eps ** 2) - self.eps).sum()

    def project_dual(self, p: torch.Tensor, radius: float) -> torch.Tensor:
        """Project dual fields p (..., 2, M, N) onto the ball ``{|p| <= radius}`` of the dual norm, pointwise."""
        if not self.isotropic:
            return p.clamp(-radius, radius)
        scale = torch.clamp(_pointwise_norm(p, keepdim=True, axes=self._axes) / radius, min=1.0)
        return p / scale

    def prox(self, x: torch.Tensor, tau: float, iters: int = 50) -> torch.Tensor:
        """argmin_z 0.5 ||z - x||^2 + tau TV(z), by the fast dual projection of Beck & Teboulle (2009, eq. 4.9)."""
        if tau <= 0:
            return x.clone()
        p = x.new_zeros(*x.shape[:-2], 2, *x.shape[-2:])
        q, t = p, 1.0
        for _ in range(iters):
            # dual of the prox: min_|p|<=1 ||x + tau div p||^2, projected gradient with step 1 / (8 tau)
            p_new = self.project_dual(q + gradient(x + tau * divergence(q)) / (8 * tau), 1.0)
            t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
            q = p_new + ((t - 1) / t_new) * (p_new - p)
            p, t = p_new, t_new
        return x + tau * divergence(p)


def _pointwise_norm(g: torch.Tensor, keepdim: bool = False, axes=(-3,)) -> torch.Tensor:
    """``|g|`` over the two gradient components (axis -3). Without autograd, sqrt of the sum of squares: 30x faster on
    CPU than linalg.vector_norm along that strided axis; with it, vector_norm (its gradient at 0 is 0, not NaN)."""
    if g.requires_grad:
        return torch.linalg.vector_norm(g, dim=axes, keepdim=keepdim)
    return torch.sqrt((g * g).sum(dim=axes, keepdim=keepdim))
