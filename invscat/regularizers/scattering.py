"""Scattering-moment matching: R(x) = 0.5 ||(S x - S_hat) / sigma||^2, pulling the image's scattering coefficients
towards a target S_hat (Dokmanic, Bruna, Mallat & de Hoop 2016), each channel normalised by a scale sigma_c
so that the small second-order coefficients count as much as the large low-frequency ones."""

from __future__ import annotations

import torch

from invscat.regularizers.base import Regularizer

from invscat.scattering import Scattering2D


class ScatteringRegularizer(Regularizer):
    """R(x) = 0.5 (M N / K) sum_{c, p} ((S x - S_hat)_{c p} / sigma_c)^2 over the K coefficients of an M x N image.

    The factor M N / K makes R grow with the number of pixels, as a data term does, so one weight suits any size.

    Parameters
    ----------
    transform : Scattering2D
        The scattering transform S (its shape is the image's).
    target : torch.Tensor
        S_hat, (..., C, h, w) as ``transform``'s output; typically a
        :meth:`invscat.estimators.ScatteringEstimator.predict`.
    scale : torch.Tensor, optional
        sigma, one positive value per channel (C,); default 1.
    confidence : torch.Tensor, optional
        Per-coefficient weights w (..., C, h, w) as the target, multiplying 1 / sigma_c^2 (e.g. an estimator's
        inverse predicted error variance, :meth:`ConvolutionalEstimator.confidence`); default 1.

    Notes
    -----
    S is smooth except where a wavelet response vanishes, so :meth:`smooth_value` is :meth:`value`; there is no
    closed-form prox.
    """

    name = "scattering"

    def __init__(self, transform: Scattering2D, target: torch.Tensor, scale: torch.Tensor | None = None,
                 confidence: torch.Tensor | None = None):
        target = torch.as_tensor(target)
        C = transform.n_channels
        if target.ndim < 3 or target.shape[-3] != C:
            raise ValueError(f"the target must have {C} scattering channels (..., {C}, h, w), got shape "
                             f"{tuple(target.shape)}.")
        if not torch.isfinite(target).all():
            raise ValueError("the scattering target contains NaN or infinite values.")
        scale = torch.ones(C) if scale is None else torch.as_tensor(scale).reshape(-1)
        if scale.numel() != C or not (scale > 0).all():
            raise ValueError(f"the channel scale must hold {C} positive values.")
        self.transform, self.target = transform, target.float()
        self.weight = (1.0 / scale.float() ** 2)[:, None, None]
        if confidence is not None:
            confidence = torch.as_tensor(confidence).float()
            if confidence.shape != target.shape or not (torch.isfinite(confidence).all() and (confidence >= 0).all()):
                raise ValueError(f"the confidence must be finite weights >= 0 of the target's shape "
                                 f"{tuple(target.shape)}.")
            self.weight = self.weight.to(confidence) * confidence

    def value(self, x: torch.Tensor) -> torch.Tensor:
        s = self.transform(x)
        target, weight = self.target.to(s.device, s.dtype), self.weight.to(s.device, s.dtype)
        pixels = x.shape[-1] * x.shape[-2]
        return 0.5 * pixels * torch.mean(weight * (s - target) ** 2, dim=(-3, -2, -1)).sum()

    smooth_value = value

    @classmethod
    def from_estimator(cls, estimator, first) -> "ScatteringRegularizer":
        """The regulariser whose target is ``estimator``'s prediction from first reconstruction(s) ``first``."""
        first_t = first if isinstance(first, torch.Tensor) else torch.as_tensor(first).float()
        target = estimator.predict(first_t)
        target = target.reshape(*first_t.shape[:-2], *target.shape[-3:])
        confidence = estimator.confidence(first_t) if hasattr(estimator, "confidence") else None
        confidence = None if confidence is None else confidence.reshape(target.shape)
        return cls(estimator.transform(first_t.shape[-2:], first_t.device), target, estimator.channel_scale,
                   confidence)
