"""A convolutional scattering estimator: a small network on the scattering grid that predicts the unknown image's
scattering from a first reconstruction's scattering and pixels.

The ridge of :class:`~invscat.estimators.ScatteringEstimator` is linear in the first reconstruction's scattering,
so it can rescale the energy TV lost but cannot tell a streak from an edge. Bruna, Sprechmann & LeCun (2016)
predicted the high-resolution image's scattering with a network instead; this one is a residual CNN of 3x3
convolutions at the scattering resolution (one cell per 2^J x 2^J pixels) whose input is the first
reconstruction's scattering (each channel standardised) beside its pixels rearranged into 4^J channels, and whose
output is the correction to that scattering in units of each channel's scale sigma_c. It is trained on the
regulariser's own metric, the mean of ((S_hat - S x) / sigma_c)^2, so that it is accurate where the
reconstruction weighs it.
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

FORMAT = "invscat.ConvolutionalEstimator"
FORMAT_VERSION = 1


class ResidualNetwork(nn.Module):
    """``depth`` 3x3 convolutions (replicate padding) of ``width`` channels with ReLUs, the last one zero, so an
    untrained network predicts no correction; ``dilations`` (one per convolution, all 1 by default) widen the
    receptive field without more weights (Yu & Koltun 2016)."""

    def __init__(self, inputs: int, outputs: int, width: int = 64, depth: int = 5,
                 dilations: tuple[int, ...] | None = None):
        super().__init__()
        sizes = [inputs] + [width] * (depth - 1) + [outputs]
        dilations = dilations or (1,) * depth
        self.layers = nn.ModuleList(nn.Conv2d(a, b, 3, padding=d, dilation=d, padding_mode="replicate")
                                    for a, b, d in zip(sizes[:-1], sizes[1:], dilations))
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.zeros_(self.layers[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


class ConvolutionalEstimator(ScatteringEstimator):
    """A residual CNN from a first reconstruction to the scattering of the true image.

    Parameters
    ----------
    J, L, max_order : int
        Scattering parameters of the target (reflect padding, as Kymatio).
    width, depth : int
        Channels of the hidden layers and number of convolutions (the receptive field is 2 depth + 1
        scattering cells, i.e. (2 depth + 1) 2^J pixels, without dilations).
    dilations : tuple of int, optional
        The dilation of each convolution (``depth`` of them; all 1 by default). The receptive field is
        1 + 2 sum(dilations) cells: (1, 2, 4, 8, 4, 2, 1) sees 43 cells, all of a 128x128 image at J=2, so the
        network can follow a streak across the image.
    uncertainty : bool
        Also predict each coefficient's error variance (a second head trained by the Gaussian likelihood), which
        :meth:`confidence` turns into per-coefficient weights of the regulariser: ambiguous texture coefficients
        then pull less than well-determined edge coefficients.
    metadata : dict, optional
        What the estimator is for; saved with it and checked by :meth:`load`.

    Examples
    --------
    >>> import numpy as np
    >>> from invscat.estimators.convolutional import ConvolutionalEstimator
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random((8, 32, 32)).astype(np.float32)
    >>> first = truth + 0.1 * rng.standard_normal(truth.shape).astype(np.float32)
    >>> estimator = ConvolutionalEstimator(J=2, L=4, width=8, depth=2).fit(first, truth, epochs=2)
    >>> tuple(estimator.predict(first[:1]).shape)
    (1, 25, 8, 8)
    """

    def __init__(self, J: int = 2, L: int = 8, max_order: int = 2, width: int = 64, depth: int = 5,
                 uncertainty: bool = False, metadata: dict | None = None, dilations: tuple[int, ...] | None = None):
        super().__init__(J, L, max_order, radius=0, metadata=metadata)
        if min(width, depth) < 1 or depth < 2:
            raise ValueError(f"the network needs a width >= 1 and a depth >= 2, got {width} and {depth}.")
        if dilations is not None and (len(dilations) != depth or min(dilations) < 1):
            raise ValueError(f"dilations must be {depth} integers >= 1 (one per convolution), got {dilations}.")
        self.width, self.depth, self.uncertainty = int(width), int(depth), bool(uncertainty)
        self.dilations = tuple(int(d) for d in dilations) if dilations is not None else None
        self.network = self._new_network()
        self.input_mean = self.input_scale = None
        self.history: list[dict] = []

    @property
    def fitted(self) -> bool:
        return self.channel_scale is not None

    # -- the network's input and output -----------------------------------------------------------------

    def _inputs(self, first: torch.Tensor, s_first: torch.Tensor) -> torch.Tensor:
        pixels = F.pixel_unshuffle(first.reshape(-1, 1, *first.shape[-2:]).float(), 2 ** self.J)
        pixels = pixels[..., :s_first.shape[-2], :s_first.shape[-1]]
        x = torch.cat([s_first, pixels], dim=1)
        return (x - self.input_mean.to(x)[:, None, None]) / self.input_scale.to(x)[:, None, None]

    def _new_network(self) -> ResidualNetwork:
        outputs = self.n_channels * (2 if self.uncertainty else 1)
        return ResidualNetwork(self.n_channels + 4 ** self.J, outputs, self.width, self.depth, self.dilations)

    def _outputs(self, first: torch.Tensor, s_first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(predicted scattering, log-variance of its error in units of sigma_c^2, or None)."""
        scale = self.channel_scale.to(s_first)[:, None, None]
        out = self.network(self._inputs(first, s_first))
        C = self.n_channels
        return s_first + scale * out[:, :C], (out[:, C:] if self.uncertainty else None)

    def _correct(self, first: torch.Tensor, s_first: torch.Tensor) -> torch.Tensor:
        return self._outputs(first, s_first)[0]

    def _loss(self, first, s_first, s_truth, scale) -> torch.Tensor:
        mean, log_variance = self._outputs(first, s_first)
        squared = ((mean - s_truth) / scale) ** 2
        if log_variance is None:
            return squared.mean()
        return (squared * torch.exp(-log_variance) + log_variance).mean()  # Gaussian negative log-likelihood

    def _padded(self, images: torch.Tensor) -> torch.Tensor:
        """Images whose sides are not multiples of 2^J reflect-padded up to them (the pixel channels need whole
        cells); the scattering is computed on the original image."""
        step = 2 ** self.J
        rows, cols = (-images.shape[-2]) % step, (-images.shape[-1]) % step
        return F.pad(images[:, None], (0, cols, 0, rows), mode="replicate")[:, 0] if rows or cols else images

    def predict(self, first, scattering: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted scattering coefficients (B, C, h, w) of the true images behind first reconstructions (their
        own ``scattering``, if already computed, is not computed again)."""
        if not self.fitted:
            raise ValueError("the estimator has not been fitted yet; call fit() first.")
        t = first if isinstance(first, torch.Tensor) else torch.as_tensor(np.asarray(first, np.float32))
        t = t.reshape(-1, *t.shape[-2:]).float()
        s = (self.scatter(t) if scattering is None else scattering).float()
        self.network.to(t.device).eval()
        with torch.no_grad():
            return self._correct(self._padded(t), s)

    def confidence(self, first) -> torch.Tensor | None:
        """Per-coefficient weights (B, C, h, w) for the regulariser, the inverse of the predicted error variance,
        scaled to mean 1 over each image; None without an uncertainty head."""
        if not self.uncertainty:
            return None
        t = first if isinstance(first, torch.Tensor) else torch.as_tensor(np.asarray(first, np.float32))
        t = t.reshape(-1, *t.shape[-2:]).float()
        self.network.to(t.device).eval()
        with torch.no_grad():
            weights = torch.exp(-self._outputs(self._padded(t), self.scatter(t).float())[1].clamp(-6, 6))
        return weights / weights.mean(dim=(1, 2, 3), keepdim=True)

    # -- training ---------------------------------------------------------------------------------------

    def fit(self, first, truth, epochs: int = 30, batch: int = 16, learning_rate: float = 1e-3,
            validation: float = 0.1, seed: int = 0, progress: Callable[[dict], None] | None = None,
            initial: "ConvolutionalEstimator | None" = None) -> "ConvolutionalEstimator":
        """Train on pairs of first reconstructions and true images (B, M, N) by Adam with a cosine schedule, and
        keep the network of the epoch with the lowest validation error.

        Parameters
        ----------
        first, truth : array_like
            Images (B, M, N) of the same shape.
        epochs, batch, learning_rate
            Passes over the training pairs, pairs per step, Adam's initial step.
        validation : float
            Fraction of the pairs held out (the error reported in :attr:`validation_error` and used to pick the
            epoch).
        seed : int
            Seed of the split, the initialisation and the batch order.
        progress : callable, optional
            Called after every epoch with a dict (epoch, train and validation error, seconds).
        initial : ConvolutionalEstimator, optional
            Start from this fitted network (its weights, input normalisation and channel scales) instead of a new
            one: fine-tuning, e.g. of a family network on a few pairs of one setting (a smaller
            ``learning_rate`` then suits).
        """
        first = torch.as_tensor(np.asarray(first, np.float32)).reshape(-1, *np.shape(first)[-2:])
        truth = torch.as_tensor(np.asarray(truth, np.float32)).reshape(first.shape)
        if first.shape != truth.shape or len(first) < 2:
            raise ValueError("fit needs at least two pairs of first reconstructions and true images of one shape.")
        if initial is not None:
            shape = ("J", "L", "max_order", "width", "depth", "uncertainty", "dilations")
            if not initial.fitted or any(getattr(initial, k) != getattr(self, k) for k in shape):
                raise ValueError("the initial network must be fitted and have this estimator's scattering and "
                                 "network shape (" + ", ".join(f"{k}={getattr(self, k)}" for k in shape) + ").")
        torch.manual_seed(seed)
        self.network = self._new_network()
        s_first = torch.cat([self.scatter(first[k:k + 32]).float() for k in range(0, len(first), 32)])
        s_truth = torch.cat([self.scatter(truth[k:k + 32]).float() for k in range(0, len(truth), 32)])
        first = self._padded(first)
        held = torch.from_numpy(np.random.default_rng(seed).random(len(first)) < validation)
        held[0] = False
        train = ~held
        self.channel_scale = s_truth[train].transpose(0, 1).reshape(self.n_channels, -1).std(1).double()
        self.channel_scale = self.channel_scale.clamp_min(1e-10)
        self.input_mean, self.input_scale = torch.zeros(1), torch.ones(1)
        raw = torch.cat([self._inputs(first[train][:256], s_first[train][:256])], dim=0)
        raw = raw.transpose(0, 1).reshape(raw.shape[1], -1)
        self.input_mean, self.input_scale = raw.mean(1), raw.std(1).clamp_min(1e-6)
        if initial is not None:
            self.network.load_state_dict(initial.network.state_dict())
            self.channel_scale = initial.channel_scale.clone()
            self.input_mean, self.input_scale = initial.input_mean.clone(), initial.input_scale.clone()
        scale = self.channel_scale.float()[:, None, None]

        def error(index) -> float:
            self.network.eval()
            total = 0.0
            with torch.no_grad():
                for k in range(0, len(index), 64):
                    i = index[k:k + 64]
                    total += float((((self._correct(first[i], s_first[i]) - s_truth[i]) / scale) ** 2).sum())
            return math.sqrt(total / (len(index) * s_truth[0].numel()))

        train_index, held_index = torch.nonzero(train)[:, 0], torch.nonzero(held)[:, 0]
        optimiser = torch.optim.Adam(self.network.parameters(), lr=learning_rate)
        steps = epochs * math.ceil(len(train_index) / batch)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=max(steps, 1),
                                                       pct_start=0.1)
        generator = torch.Generator().manual_seed(seed)
        identity = math.sqrt(float((((s_first[held] - s_truth[held]) / scale) ** 2).mean())) if len(held_index) else None
        best, best_state = math.inf, copy.deepcopy(self.network.state_dict())
        self.history = []
        for epoch in range(epochs):
            start = time.perf_counter()
            self.network.train()
            order = train_index[torch.randperm(len(train_index), generator=generator)]
            for k in range(0, len(order), batch):
                i = order[k:k + batch]
                loss = self._loss(first[i], s_first[i], s_truth[i], scale)
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.network.parameters(), 1.0)
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

    # -- persistence ------------------------------------------------------------------------------------

    def state(self) -> dict:
        """What :meth:`save` writes: network, scales, scattering parameters and metadata."""
        if not self.fitted:
            raise ValueError("the estimator has not been fitted yet; call fit() first.")
        return {"format": FORMAT, "version": FORMAT_VERSION,
                "scattering": {"J": self.J, "L": self.L, "max_order": self.max_order},
                "network": {"width": self.width, "depth": self.depth, "uncertainty": self.uncertainty,
                            "dilations": list(self.dilations) if self.dilations else None},
                "metadata": self.metadata,
                "weights": {k: v.float() for k, v in self.network.state_dict().items()},
                "channel_scale": self.channel_scale.float(), "input_mean": self.input_mean.float(),
                "input_scale": self.input_scale.float(), "lam": self.lam, "tv_weight": self.tv_weight,
                "validation_error": {str(k): v for k, v in self.validation_error.items()}}

    @classmethod
    def from_state(cls, path, state: dict) -> "ConvolutionalEstimator":
        """The estimator a saved state describes (:meth:`ScatteringEstimator.load` reads the file and dispatches
        here), every field checked, naming the file."""
        if state.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: convolutional estimator format version {state.get('version')} is not "
                             f"supported (this invscat reads version {FORMAT_VERSION}); refit it with `invscat fit`.")
        try:
            J, L, order = (int(state["scattering"][k]) for k in ("J", "L", "max_order"))
            width, depth = int(state["network"]["width"]), int(state["network"]["depth"])
            uncertainty = bool(state["network"].get("uncertainty", False))
            dilations = state["network"].get("dilations")
            estimator = cls(J, L, order, width, depth, uncertainty, metadata=dict(state["metadata"]),
                            dilations=tuple(int(d) for d in dilations) if dilations else None)
            estimator.network.load_state_dict({k: v.float() for k, v in state["weights"].items()})
            C, inputs = estimator.n_channels, estimator.n_channels + 4 ** J
            tensors = {"channel_scale": C, "input_mean": inputs, "input_scale": inputs}
            for key, size in tensors.items():
                value = state[key]
                if tuple(value.shape) != (size,) or not torch.isfinite(value).all():
                    raise ValueError(f"{key!r} must be {size} finite numbers")
            if not (state["channel_scale"] > 0).all() or not (state["input_scale"] > 0).all():
                raise ValueError("the scales must be positive")
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ValueError(f"{path}: a malformed convolutional estimator file ({detail}).") from None
        estimator.channel_scale = state["channel_scale"].double()
        estimator.input_mean, estimator.input_scale = state["input_mean"].float(), state["input_scale"].float()
        estimator.validation_error = dict(state.get("validation_error") or {})
        estimator.lam, estimator.tv_weight = lam_weights(path, state)
        estimator.network.eval()
        return estimator
