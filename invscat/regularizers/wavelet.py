"""l1 sparsity of orthogonal wavelet coefficients (Daubechies, Defrise & De Mol 2004), on ptwt's matrix DWT."""

from __future__ import annotations

import warnings

import torch

from invscat.regularizers.base import Regularizer


class WaveletL1(Regularizer):
    """``R(x) = sum |detail coefficients|`` of an orthogonal 2-D wavelet transform of x.

    The transform is ptwt's boundary-orthogonalised matrix DWT, so it is exactly orthogonal on any image
    size and the prox is soft-thresholding of the coefficients. The coarse approximation is not penalised.

    A decimated DWT is not shift-invariant, and in super-resolution, where the fine detail lies in the null
    space, its l1 minimiser is blocky. With ``shifts`` > 1 the regulariser is cycle-spun (Coifman & Donoho
    1995): value and prox are averaged over ``shifts`` circular shifts of the image along the diagonal, spread
    over one period 2^levels of the coarsest level. The averaged prox is the usual translation-invariant
    approximation, not the exact prox of the averaged norm.

    Parameters
    ----------
    wavelet : str
        A PyWavelets orthogonal wavelet name ('haar', 'db2', 'db4', 'sym8', ...).
    levels : int
        Number of decomposition levels.
    eps : float
        Smoothing of :meth:`smooth_value` (sqrt(c^2 + eps^2) - eps per coefficient).
    shifts : int
        Number of cycle-spinning shifts (1: the plain orthogonal transform).
    """

    name = "l1"

    def __init__(self, wavelet: str = "db4", levels: int = 3, eps: float = 1e-3, shifts: int = 4):
        import pywt
        import ptwt

        try:
            family = pywt.Wavelet(wavelet)
        except ValueError:
            raise ValueError(f"unknown wavelet {wavelet!r}; expected a PyWavelets name such as 'db4'.") from None
        if not family.orthogonal:
            raise ValueError(f"the wavelet {wavelet!r} is not orthogonal; use e.g. 'haar', 'db4' or 'sym8'.")
        if levels < 1:
            raise ValueError(f"the number of wavelet levels must be >= 1, got {levels}.")
        if shifts < 1:
            raise ValueError(f"the number of cycle-spinning shifts must be >= 1, got {shifts}.")
        self.wavelet, self.levels, self.eps = wavelet, int(levels), float(eps)
        period = 2 ** self.levels
        self.offsets = sorted({(k * period) // int(shifts) for k in range(int(shifts))})
        self._analysis = ptwt.MatrixWavedec2(wavelet, level=levels)
        self._synthesis = ptwt.MatrixWaverec2(wavelet)

    def analysis(self, x: torch.Tensor):
        """Coefficients (approximation, (details of the coarsest level), ..., (details of the finest level))."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # ptwt's notes on sparse tensors being beta
            return self._analysis(x.reshape(-1, *x.shape[-2:]))

    def synthesis(self, coefficients, shape) -> torch.Tensor:
        """The image of ``shape`` with these coefficients. ptwt extends an odd side by one sample at each level
        where it is odd; the extension is cropped off."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            image = self._synthesis(coefficients)
        return image[..., :shape[-2], :shape[-1]].reshape(shape)

    def _details(self, coefficients):
        return [d for level in coefficients[1:] for d in level]

    def _spun(self, x: torch.Tensor, function):
        """Average of ``function(shifted x)`` shifted back, over the cycle-spinning offsets."""
        total = 0
        for k in self.offsets:
            out = function(torch.roll(x, (k, k), (-2, -1)))
            total = total + (torch.roll(out, (-k, -k), (-2, -1)) if out.ndim else out)
        return total / len(self.offsets)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self._spun(x, lambda v: sum(d.abs().sum() for d in self._details(self.analysis(v))))

    def smooth_value(self, x: torch.Tensor) -> torch.Tensor:
        return self._spun(x, lambda v: sum((torch.sqrt(d * d + self.eps ** 2) - self.eps).sum()
                                           for d in self._details(self.analysis(v))))

    def prox(self, x: torch.Tensor, tau: float) -> torch.Tensor:
        """Soft-threshold the detail coefficients by ``tau`` (exact for ``shifts=1``, the transform being orthogonal)."""
        return self._spun(x, lambda v: self._shrink(v, tau))

    def _shrink(self, x: torch.Tensor, tau: float) -> torch.Tensor:
        coefficients = self.analysis(x)
        shrunk = [coefficients[0]] + [type(level)(*(torch.sign(d) * torch.clamp(d.abs() - tau, min=0) for d in level))
                                      for level in coefficients[1:]]
        return self.synthesis(tuple(shrunk), x.shape)
