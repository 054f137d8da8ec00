"""A restoration estimator: the scattering of a network's restored image, as the prior's target.

The ridge and the convolutional estimators predict the conditional mean of the unknown image's scattering, which
in textures the measurements cannot place still carries the texture's energy: pulled towards it, the
reconstruction grows texture of the wrong placement, which PSNR charges for. The scattering of the conditional
mean *image* has the energy only where the data fix it. This estimator approximates that image by a small U-Net
(Ronneberger, Fischer & Brox 2015) that restores the first reconstruction, trained on the squared pixel error
(as learned post-processing, Jin et al. 2017), and predicts that image's scattering; the reconstruction then pulls
towards it while staying consistent with the measurements.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from invscat.estimators.scattering import ScatteringEstimator, lam_weights

FORMAT = "invscat.RestorationEstimator"
FORMAT_VERSION = 1


def _block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(outputs, outputs, 3, padding=1), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """x + U(x): a U-Net of ``levels`` resolutions with ``width``, 2 ``width``, 4 ``width``, ... channels whose last
    convolution starts at zero, so an untrained network returns its input."""

    def __init__(self, width: int = 32, levels: int = 3):
        super().__init__()
        self.levels = levels
        channels = [width * 2 ** k for k in range(levels)]
        for k in range(levels):
            setattr(self, f"e{k + 1}", _block(1 if k == 0 else channels[k - 1], channels[k]))
        for k in range(levels - 1, 0, -1):
            setattr(self, f"u{k}", nn.ConvTranspose2d(channels[k], channels[k - 1], 2, stride=2))
            setattr(self, f"d{k}", _block(2 * channels[k - 1], channels[k - 1]))
        self.out = nn.Conv2d(width, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for k in range(self.levels):
            h = getattr(self, f"e{k + 1}")(h if k == 0 else F.max_pool2d(h, 2))
            skips.append(h)
        for k in range(self.levels - 1, 0, -1):
            h = getattr(self, f"d{k}")(torch.cat([getattr(self, f"u{k}")(h), skips[k - 1]], 1))
        return x + self.out(h)


class RestorationEstimator(ScatteringEstimator):
    """The scattering of a U-Net's restoration of the first reconstruction.

    Parameters
    ----------
    J, L, max_order : int
        Scattering parameters of the target (reflect padding, as Kymatio).
    width : int
        Channels of the U-Net's first level (each next level has twice as many).
    levels : int
        The U-Net's resolutions (sides are padded to multiples of 2^(levels - 1)); 4 sees the long streaks of
        sparse-view CT that 3 does not.
    self_ensemble : bool
        Restore the eight flips and quarter turns of the image and average them back (the self-ensemble of Timofte,
        Rothe & Van Gool 2016): the network is trained on all eight, so their average is a better estimate of the
        mean image, at eight passes' cost.
    metadata : dict, optional
        What the estimator is for; saved with it and checked by :meth:`load`.

    Examples
    --------
    >>> import numpy as np
    >>> from invscat.estimators.restoration import RestorationEstimator
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random((8, 32, 32)).astype(np.float32)
    >>> first = truth + 0.1 * rng.standard_normal(truth.shape).astype(np.float32)
    >>> estimator = RestorationEstimator(J=2, L=4, width=4).fit(first, truth, epochs=2, crop=16)
    >>> estimator.restore(first[:1]).shape, tuple(estimator.predict(first[:1]).shape)
    ((1, 32, 32), (1, 25, 8, 8))
    """

    def __init__(self, J: int = 2, L: int = 8, max_order: int = 2, width: int = 32, levels: int = 3,
                 self_ensemble: bool = True, metadata: dict | None = None):
        super().__init__(J, L, max_order, radius=0, metadata=metadata)
        if width < 1 or levels < 1:
            raise ValueError(f"the network needs a width and levels >= 1, got {width} and {levels}.")
        self.width, self.levels, self.self_ensemble = int(width), int(levels), bool(self_ensemble)
        self.network = UNet(self.width, self.levels)
        self.history: list[dict] = []

    @property
    def fitted(self) -> bool:
        return self.channel_scale is not None

    def _restore(self, images: torch.Tensor) -> torch.Tensor:
        step = 2 ** (self.levels - 1)
        rows, cols = (-images.shape[-2]) % step, (-images.shape[-1]) % step
        x = F.pad(images[:, None], (0, cols, 0, rows), mode="replicate") if rows or cols else images[:, None]
        return self.network(x)[:, 0, :images.shape[-2], :images.shape[-1]]

    def _estimate(self, first) -> torch.Tensor:
        """The restored images (B, M, N) of first reconstructions (B, M, N) or (M, N), arrays or tensors: the
        network's, averaged over the eight flips and turns with ``self_ensemble``."""
        if not self.fitted:
            raise ValueError("the estimator has not been fitted yet; call fit() first.")
        images = first if isinstance(first, torch.Tensor) else torch.as_tensor(np.asarray(first, np.float32))
        images = images.reshape(-1, *images.shape[-2:]).float()
        self.network.to(images.device).eval()
        with torch.no_grad():
            if not self.self_ensemble:
                return self._restore(images)
            total = torch.zeros_like(images)
            for flip in (False, True):
                flipped = images.flip(-1) if flip else images
                for turns in range(4):
                    restored = torch.rot90(self._restore(torch.rot90(flipped, turns, (-2, -1))), -turns, (-2, -1))
                    total += restored.flip(-1) if flip else restored
            return total / 8

    def restore(self, first) -> np.ndarray:
        """The network's restored images (B, M, N) of first reconstructions (B, M, N) or (M, N)."""
        return self._estimate(first).cpu().numpy()

    def predict(self, first, scattering: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted scattering coefficients (B, C, h, w): those of the restored images (``scattering``, the first
        reconstructions' own, is not needed)."""
        restored = self._estimate(first)
        with torch.no_grad():
            return self.scatter(restored).float()

    def fit(self, first, truth, epochs: int = 20, batch: int = 16, learning_rate: float = 1e-3,
            validation: float = 0.1, seed: int = 0, crop: int | None = None,
            progress: Callable[[dict], None] | None = None) -> "RestorationEstimator":
        """Train the U-Net on pairs of first reconstructions and true images (B, M, N) by Adam with a one-cycle
        schedule on the squared pixel error, on random ``crop`` x ``crop`` windows (default 64 for three levels, 96
        for four or more) with random quarter turns and flips, and keep the network of the epoch with the lowest
        error on the held-out pairs (whole images, one pass each).

        The channel scales (sigma_c, the regulariser's units) are the standard deviations of the training images'
        scattering channels, as for the other estimators.
        """
        first = torch.as_tensor(np.asarray(first, np.float32)).reshape(-1, *np.shape(first)[-2:])
        truth = torch.as_tensor(np.asarray(truth, np.float32)).reshape(first.shape)
        if len(first) < 2:
            raise ValueError("fit needs at least two pairs of first reconstructions and true images of one shape.")
        crop = min(int(crop or (64 if self.levels <= 3 else 96)), *first.shape[-2:])
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        self.network = UNet(self.width, self.levels)
        held = torch.from_numpy(rng.random(len(first)) < validation)
        held[0] = False
        train_index, held_index = torch.nonzero(~held)[:, 0], torch.nonzero(held)[:, 0]
        s_truth = torch.cat([self.scatter(truth[train_index[k:k + 32]]).float()
                             for k in range(0, len(train_index), 32)])
        self.channel_scale = s_truth.transpose(0, 1).reshape(self.n_channels, -1).std(1).double().clamp_min(1e-10)

        def error(index) -> float:
            self.network.eval()
            with torch.no_grad():
                total = sum(float(((self._restore(first[index[k:k + 32]]) - truth[index[k:k + 32]]) ** 2).sum())
                            for k in range(0, len(index), 32))
            return math.sqrt(total / (len(index) * first[0].numel()))

        optimiser = torch.optim.Adam(self.network.parameters(), lr=learning_rate)
        steps = epochs * math.ceil(len(train_index) / batch)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=max(steps, 1))
        identity = math.sqrt(float(((first[held_index] - truth[held_index]) ** 2).mean())) if len(held_index) else None
        best, best_state = math.inf, copy.deepcopy(self.network.state_dict())
        self.history = []
        for epoch in range(epochs):
            start = time.perf_counter()
            self.network.train()
            order = train_index[torch.from_numpy(rng.permutation(len(train_index)))]
            for k in range(0, len(order), batch):
                i = order[k:k + batch]
                r, c = (int(rng.integers(0, side - crop + 1)) for side in first.shape[-2:])
                x, y = first[i, r:r + crop, c:c + crop], truth[i, r:r + crop, c:c + crop]
                turns = int(rng.integers(4))
                x, y = torch.rot90(x, turns, (1, 2)), torch.rot90(y, turns, (1, 2))
                if rng.random() < 0.5:
                    x, y = x.flip(2), y.flip(2)
                loss = F.mse_loss(self._restore(x), y)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
            row = {"epoch": epoch + 1, "seconds": time.perf_counter() - start}
            if len(held_index):
                row["validation"] = error(held_index)
                if row["validation"] < best:
                    best, best_state = row["validation"], copy.deepcopy(self.network.state_dict())
            self.history.append(row)
            if progress is not None:
                progress(row)
        if len(held_index):
            self.network.load_state_dict(best_state)
            self.validation_error = {"identity": identity, "network": best}
        self.network.eval()
        return self

    def state(self) -> dict:
        """What :meth:`save` writes: the U-Net, the channel scales, scattering parameters and metadata."""
        if not self.fitted:
            raise ValueError("the estimator has not been fitted yet; call fit() first.")
        return {"format": FORMAT, "version": FORMAT_VERSION,
                "scattering": {"J": self.J, "L": self.L, "max_order": self.max_order},
                "network": {"width": self.width, "levels": self.levels, "self_ensemble": self.self_ensemble},
                "metadata": self.metadata,
                "weights": {k: v.float() for k, v in self.network.state_dict().items()},
                "channel_scale": self.channel_scale.float(), "lam": self.lam, "tv_weight": self.tv_weight,
                "validation_error": {str(k): v for k, v in self.validation_error.items()}}

    @classmethod
    def from_state(cls, path, state: dict) -> "RestorationEstimator":
        """The estimator a saved state describes (:meth:`ScatteringEstimator.load` reads the file and dispatches
        here), every field checked, naming the file."""
        if state.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: restoration estimator format version {state.get('version')} is not "
                             f"supported (this invscat reads version {FORMAT_VERSION}); refit it with `invscat fit`.")
        try:
            J, L, order = (int(state["scattering"][k]) for k in ("J", "L", "max_order"))
            network = state["network"]
            estimator = cls(J, L, order, int(network["width"]), int(network.get("levels", 3)),
                            bool(network.get("self_ensemble", False)), metadata=dict(state["metadata"]))
            estimator.network.load_state_dict({k: v.float() for k, v in state["weights"].items()})
            scale = state["channel_scale"]
            if tuple(scale.shape) != (estimator.n_channels,) or not torch.isfinite(scale).all() or \
                    not (scale > 0).all():
                raise ValueError(f"'channel_scale' must be {estimator.n_channels} positive finite numbers")
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ValueError(f"{path}: a malformed restoration estimator file ({detail}).") from None
        estimator.channel_scale = scale.double()
        estimator.validation_error = dict(state.get("validation_error") or {})
        estimator.lam, estimator.tv_weight = lam_weights(path, state)
        estimator.network.eval()
        return estimator
