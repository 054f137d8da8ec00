"""Best linear estimators in the pixel domain, learned by least squares from training pairs.

- :class:`LinearSuperResolution`: each high-resolution pixel is an affine function of the (2r+1)^2 low-resolution
  pixels around it, with one filter per decimation phase (f^2 filters for factor f): the "best linear" baseline
  of the scattering super-resolution papers (Bruna, Sprechmann & LeCun 2016).
- :class:`LearnedFBP`: filtered backprojection whose detector filter is fitted to training images instead of
  being a fixed apodised ramp.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from invscat.linalg import NormalEquations
from invscat.operators.radon import Radon


class LinearSuperResolution:
    """Per-phase affine filters from a low-resolution neighbourhood to each high-resolution pixel.

    Parameters
    ----------
    factor : int
        Upsampling factor.
    radius : int
        The neighbourhood is (2 radius + 1)^2 low-resolution pixels (reflect-padded at the border).
    ridge : float
        Ridge weight relative to the mean diagonal of the normal matrix.
    """

    def __init__(self, factor: int, radius: int = 3, ridge: float = 1e-4):
        if factor < 1 or radius < 0 or ridge < 0:
            raise ValueError("the factor must be >= 1, the radius >= 0 and the ridge weight >= 0.")
        self.factor, self.radius, self.ridge = int(factor), int(radius), float(ridge)
        self.weights = None  # (features + 1, factor^2)
        self._equations = NormalEquations()

    def _features(self, low: torch.Tensor) -> torch.Tensor:
        """(B, m, n) -> (B * m * n, (2r+1)^2 + 1) neighbourhoods plus a constant."""
        r = self.radius
        padded = F.pad(low[:, None].double(), (r, r, r, r), mode="reflect") if r else low[:, None].double()
        patches = F.unfold(padded, 2 * r + 1).transpose(1, 2).reshape(-1, (2 * r + 1) ** 2)
        return torch.cat([patches, patches.new_ones(patches.shape[0], 1)], dim=1)

    def _targets(self, high: torch.Tensor) -> torch.Tensor:
        """(B, M, N) -> (B * m * n, f^2): the f x f block of each low-resolution pixel, phase by phase."""
        blocks = F.pixel_unshuffle(high[:, None].double(), self.factor)  # (B, f^2, m, n)
        return blocks.permute(0, 2, 3, 1).reshape(-1, self.factor ** 2)

    def partial_fit(self, low, high) -> "LinearSuperResolution":
        """Accumulate the normal equations of a batch of pairs, low (B, m, n) and high (B, f m, f n)."""
        low, high = torch.as_tensor(np.asarray(low)), torch.as_tensor(np.asarray(high))
        low, high = low.reshape(-1, *low.shape[-2:]), high.reshape(-1, *high.shape[-2:])
        if tuple(high.shape[-2:]) != (low.shape[-2] * self.factor, low.shape[-1] * self.factor):
            raise ValueError(f"high-resolution images must be {self.factor}x the low-resolution shape "
                             f"{tuple(low.shape[-2:])}, got {tuple(high.shape[-2:])}.")
        self._equations.add(self._features(low), self._targets(high))
        self.weights = self._equations.solve(self.ridge)
        return self

    def fit(self, low, high) -> "LinearSuperResolution":
        """Fit on these pairs alone (what :meth:`partial_fit` accumulated before is dropped)."""
        self._equations = NormalEquations()
        return self.partial_fit(low, high)

    def predict(self, low):
        """Upsample low-resolution image(s) (..., m, n) to (..., f m, f n)."""
        if self.weights is None:
            raise ValueError("the estimator has not been fitted yet; call fit() first.")
        is_numpy = not isinstance(low, torch.Tensor)
        t = torch.as_tensor(np.asarray(low, np.float32)) if is_numpy else low
        batch, (m, n) = t.shape[:-2], t.shape[-2:]
        flat = t.reshape(-1, m, n)
        blocks = (self._features(flat) @ self.weights.to(flat.device)).reshape(flat.shape[0], m, n, -1)
        high = F.pixel_shuffle(blocks.permute(0, 3, 1, 2), self.factor)[:, 0].to(t.dtype)
        high = high.reshape(*batch, m * self.factor, n * self.factor)
        return high.numpy() if is_numpy else high


class LearnedFBP:
    """Filtered backprojection x = A^T (h * y) with the detector filter h fitted by least squares.

    h is a combination of ``knots`` piecewise-linear bumps over frequency (0 to Nyquist of the zero-padded
    detector row), so the image is linear in the bump weights and a few training images determine them.

    Parameters
    ----------
    radon : Radon
        The acquisition geometry (views, arc, detectors).
    knots : int
        Number of frequency bumps.
    ridge : float
        Ridge weight relative to the mean diagonal of the normal matrix.
    """

    def __init__(self, radon: Radon, knots: int = 32, ridge: float = 1e-6):
        self.radon, self.knots, self.ridge = radon, int(knots), float(ridge)
        detectors = radon.range_shape[1]
        self._padded = 1 << int(np.ceil(np.log2(2 * detectors)))
        frequencies = np.linspace(0, 1, self._padded // 2 + 1)
        centres = np.linspace(0, 1, knots)
        width = centres[1] - centres[0]
        self._basis = torch.from_numpy(np.clip(1 - np.abs(frequencies[None] - centres[:, None]) / width, 0, None))
        self.coefficients = None
        self._equations = NormalEquations()

    def _filtered(self, sinogram: torch.Tensor, response: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(sinogram.double(), n=self._padded, dim=-1)
        return torch.fft.irfft(spectrum * response, n=self._padded, dim=-1)[..., :sinogram.shape[-1]]

    def partial_fit(self, sinograms, images) -> "LearnedFBP":
        """Accumulate the normal equations of sinograms (B, views, detectors) and their images (B, M, N)."""
        sinograms = torch.as_tensor(np.asarray(sinograms)).reshape(-1, *self.radon.range_shape)
        images = torch.as_tensor(np.asarray(images, np.float64)).reshape(sinograms.shape[0], -1)
        columns = torch.stack([self.radon.adjoint(self._filtered(sinograms, b).float()).double().reshape(len(images), -1)
                               for b in self._basis], dim=-1)  # (B, pixels, knots)
        self._equations.add(columns.reshape(-1, columns.shape[-1]), images.reshape(-1, 1))
        self.coefficients = self._equations.solve(self.ridge)[:, 0]
        return self

    def fit(self, sinograms, images) -> "LearnedFBP":
        """Fit on these pairs alone (what :meth:`partial_fit` accumulated before is dropped)."""
        self._equations = NormalEquations()
        return self.partial_fit(sinograms, images)

    @property
    def response(self) -> np.ndarray:
        """The fitted filter's frequency response on the rfft grid of the padded detector row."""
        if self.coefficients is None:
            raise ValueError("the estimator has not been fitted yet; call fit() first.")
        return (self.coefficients @ self._basis).numpy()

    def predict(self, sinogram):
        """Reconstruct image(s) from sinogram(s) (..., views, detectors)."""
        is_numpy = not isinstance(sinogram, torch.Tensor)
        t = torch.as_tensor(np.asarray(sinogram, np.float32)) if is_numpy else sinogram
        filtered = self._filtered(t.cpu(), torch.from_numpy(self.response)).float()
        image = self.radon.adjoint(filtered).to(t.device)
        return image.numpy() if is_numpy else image
