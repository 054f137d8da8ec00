"""Scattering-domain linear estimators (Bruna, Sprechmann & LeCun 2016; Dokmanic, Bruna, Mallat & de Hoop 2016).

The scattering transform discards phase, which exposes correlations across scales that a linear map can use:
from the scattering coefficients of a first reconstruction (bicubic, FBP, TV, ...) predict those of the unknown
image. :class:`ScatteringEstimator` is that map, a ridge regression that mixes all channels over a small
spatial neighbourhood (a convolution in the scattering domain, so it applies to any image size):

    S_hat(p) = S_first(p) + b + sum_{|q - p| <= r} W_{q - p} S_first(q),

fitted in closed form from normal equations accumulated batch by batch, with the ridge weight chosen on a
validation split. The prediction is the target of :class:`invscat.regularizers.ScatteringRegularizer`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from invscat.scattering import Scattering2D
from invscat.scattering.transform import n_channels

FORMAT_VERSION = 1
RIDGE_GRID = tuple(10.0 ** k for k in range(-6, 3))


class ScatteringEstimator:
    """Ridge regression from the scattering of a first reconstruction to the scattering of the true image.

    Parameters
    ----------
    J, L, max_order : int
        Scattering parameters (reflect padding, as Kymatio).
    radius : int
        Each prediction uses all channels at the (2 radius + 1)^2 scattering positions around it.
    metadata : dict, optional
        What the estimator is for (task, operator parameters, image shape); saved with it and checked by
        :meth:`load`.

    Attributes
    ----------
    weights : torch.Tensor or None
        (features + 1, C) float64, after :meth:`fit`.
    ridge : float or None
        The ridge weight the validation split chose.
    validation_error : dict
        Relative validation error of the predicted scattering for each ridge weight tried, and of the
        first reconstruction's own scattering (key ``'identity'``).
    lam, tv_weight : float or None
        The weights of the scattering prior and of TV tuned for this estimator (relative to ||A||^2), if any;
        saved with it and used by ``method='scattering'`` (when no weight is given; TV's default otherwise).
    """

    def __init__(self, J: int = 2, L: int = 8, max_order: int = 2, radius: int = 1,
                 metadata: dict | None = None):
        if isinstance(radius, bool) or int(radius) != radius or radius < 0:
            raise ValueError(f"the neighbourhood radius must be an integer >= 0, got {radius}.")
        self.J, self.L, self.max_order, self.radius = int(J), int(L), int(max_order), int(radius)
        self.metadata = dict(metadata or {})
        self.weights = self.ridge = self.channel_scale = self.lam = self.tv_weight = None
        self.validation_error: dict = {}
        self._sums: dict = {}
        self._transforms: dict = {}

    @property
    def n_channels(self) -> int:
        return n_channels(self.J, self.L, self.max_order)

    def transform(self, shape, device=None) -> Scattering2D:
        """The scattering transform the estimator works in, for images of ``shape`` (cached): reflect padding on
        a grid whose FFTs are fast (``padding='fast'``)."""
        key = (tuple(int(s) for s in shape), str(device))
        if key not in self._transforms:
            self._transforms[key] = Scattering2D(self.J, key[0], self.L, self.max_order, padding="fast").to(device)
        return self._transforms[key]

    def scatter(self, images) -> torch.Tensor:
        """Scattering coefficients (B, C, h, w) of images (B, M, N), in float64 (no gradient)."""
        t = torch.as_tensor(np.asarray(images, np.float32)) if not isinstance(images, torch.Tensor) else images
        t = t.reshape(-1, *t.shape[-2:])
        with torch.no_grad():
            return self.transform(t.shape[-2:], t.device)(t.float()).double()

    # -- the regression -----------------------------------------------------------------------------------

    def _features(self, s: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B h w, C (2r+1)^2 + 1): each position's neighbourhood, plus a constant."""
        r = self.radius
        padded = F.pad(s, (r, r, r, r), mode="replicate") if r else s
        patches = F.unfold(padded, 2 * r + 1).transpose(1, 2).reshape(-1, s.shape[1] * (2 * r + 1) ** 2)
        return torch.cat([patches, patches.new_ones(patches.shape[0], 1)], dim=1)

    @staticmethod
    def _targets(s: torch.Tensor) -> torch.Tensor:
        return s.permute(0, 2, 3, 1).reshape(-1, s.shape[1])

    def partial_fit(self, first, truth, split: str = "train") -> "ScatteringEstimator":
        """Accumulate the normal equations of a batch of (first reconstruction, true image) pairs.

        Parameters
        ----------
        first, truth : array_like or torch.Tensor
            Images (B, M, N) of the same shape.
        split : {'train', 'validation'}
            Which part of the data the batch belongs to; the ridge weight is chosen on 'validation'.
        """
        s_first, s_truth = self.scatter(first), self.scatter(truth)
        if s_first.shape != s_truth.shape:
            raise ValueError(f"first reconstructions and true images must have the same shape, got "
                             f"{tuple(s_first.shape)} and {tuple(s_truth.shape)} scattering coefficients.")
        first_d, truth_d = s_first, s_truth
        X = self._features(first_d)
        Y = self._targets(truth_d) - self._targets(first_d)  # predict the correction to the first estimate
        sums = {"gram": X.T @ X, "rhs": X.T @ Y, "yy": (Y * Y).sum(0), "truth2": (self._targets(truth_d) ** 2).sum(0),
                "truth_sq": self._targets(s_truth).pow(2).sum(0), "truth_sum": self._targets(s_truth).sum(0),
                "count": torch.tensor(float(X.shape[0]), dtype=torch.float64)}
        return self.add_sums({split: sums})

    def sums(self) -> dict:
        """The normal-equation sums :meth:`partial_fit` accumulated, per split (to combine fits done apart)."""
        return {split: dict(part) for split, part in self._sums.items()}

    def add_sums(self, sums: dict) -> "ScatteringEstimator":
        """Add sums from :meth:`sums` of another estimator of the same settings (e.g. a batch fitted on a worker)."""
        for split, part in sums.items():
            mine = self._sums.setdefault(split, {})
            for key, value in part.items():
                mine[key] = value if key not in mine else mine[key] + value
        return self

    def _solve(self, gram: torch.Tensor, rhs: torch.Tensor, ridge: float) -> torch.Tensor:
        """Ridge on standardised features: the penalty of each weight is ridge x its feature's variance."""
        n = gram[-1, -1]
        mean = gram[-1, :-1] / n
        variance = (torch.diagonal(gram)[:-1] / n - mean ** 2).clamp_min(1e-12 * torch.diagonal(gram)[:-1].mean() / n)
        penalty = torch.cat([ridge * n * variance, variance.new_zeros(1)])
        return torch.linalg.solve(gram + torch.diag(penalty), rhs)

    def _error(self, weights, part) -> torch.Tensor:
        """Squared prediction error per output channel on accumulated sums: ||Y - X W||^2."""
        return part["yy"] - 2 * (weights * part["rhs"]).sum(0) + (weights * (part["gram"] @ weights)).sum(0)

    def fit(self, first=None, truth=None, ridges=RIDGE_GRID, validation: float = 0.2,
            seed: int = 0) -> "ScatteringEstimator":
        """Fit on pairs, choosing the ridge weight on a held-out part, then refit on everything.

        Parameters
        ----------
        first, truth : array_like, optional
            Images (B, M, N): the estimator is refitted on these alone (what :meth:`partial_fit` accumulated
            before is dropped). If omitted, the normal equations accumulated by :meth:`partial_fit` are solved.
        ridges : sequence of float
            Candidate ridge weights (relative to each feature's variance).
        validation : float
            Fraction of the pairs held out to choose the ridge weight (0: use the smallest candidate).
        seed : int
            Seed of the random split.
        """
        if first is not None:
            first, truth = np.asarray(first, np.float32), np.asarray(truth, np.float32)
            if first.shape != truth.shape:
                raise ValueError(f"first reconstructions and true images must have the same shape, got "
                                 f"{first.shape} and {truth.shape}.")
            first, truth = first.reshape(-1, *first.shape[-2:]), truth.reshape(-1, *truth.shape[-2:])
            self._sums = {}
            held = np.random.default_rng(seed).random(len(first)) < validation
            if validation > 0 and held.all():
                held[0] = False
            for split, mask in (("train", ~held), ("validation", held)):
                for start in range(0, int(mask.sum()), 32):
                    index = np.flatnonzero(mask)[start:start + 32]
                    self.partial_fit(first[index], truth[index], split)
        if "train" not in self._sums:
            raise ValueError("no training pairs: call fit(first, truth) or partial_fit() first.")
        train, held = self._sums["train"], self._sums.get("validation")
        if held is not None:
            scale = held["truth2"].sum()
            self.validation_error = {"identity": math.sqrt(held["yy"].sum() / scale)}
            for ridge in ridges:
                weights = self._solve(train["gram"], train["rhs"], ridge)
                self.validation_error[ridge] = math.sqrt(self._error(weights, held).sum().clamp_min(0) / scale)
            self.ridge = min(ridges, key=lambda r: self.validation_error[r])
            total = {key: train[key] + held[key] for key in train}
        else:
            self.ridge, total = min(ridges), train
        self.weights = self._solve(total["gram"], total["rhs"], self.ridge)
        count = total["count"]
        self.channel_scale = (total["truth_sq"] / count - (total["truth_sum"] / count) ** 2).clamp_min(1e-20).sqrt()
        return self

    def predict(self, first, scattering: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted scattering coefficients (B, C, h, w) of the true images behind first reconstructions; their
        own ``scattering`` (:meth:`scatter`), when already computed, is not computed again."""
        if self.weights is None:
            raise ValueError("the estimator has not been fitted yet; call fit() first.")
        s = self.scatter(first) if scattering is None else scattering.double()
        correction = (self._features(s) @ self.weights.to(s.device)).reshape(s.shape[0], *s.shape[2:], -1)
        return (s + correction.permute(0, 3, 1, 2)).float()

    def check(self, name: str = "the estimator", strict: bool = True, **expected) -> None:
        """Raise a ``ValueError`` naming the first metadata entry that differs from ``expected``.

        With ``strict=False`` an entry the estimator does not record is not checked (an estimator fitted through
        the Python API without metadata is taken as the user's responsibility).
        """
        for key, want in expected.items():
            have = self.metadata.get(key)
            if (strict or key in self.metadata) and _normalised(have) != _normalised(want):
                raise ValueError(f"{name}: the estimator was fitted for {key}={have!r}, not {key}={want!r}; "
                                 f"fit one for this setting with `invscat fit`.")

    # -- persistence --------------------------------------------------------------------------------------

    def state(self) -> dict:
        """What :meth:`save` writes: the fitted estimator as a dict of plain values and tensors."""
        if self.weights is None:
            raise ValueError("the estimator has not been fitted yet; call fit() first.")
        return {"format": "invscat.ScatteringEstimator", "version": FORMAT_VERSION,
                "scattering": {"J": self.J, "L": self.L, "max_order": self.max_order},
                "radius": self.radius, "log": False, "metadata": self.metadata,
                "weights": self.weights.float(), "ridge": self.ridge,
                "channel_scale": self.channel_scale.float(), "lam": self.lam, "tv_weight": self.tv_weight,
                "validation_error": {str(k): v for k, v in self.validation_error.items()}}

    def save(self, path) -> None:
        """Save the fitted estimator (its :meth:`state`: weights, scattering parameters, metadata) to a torch
        file, atomically."""
        state = self.state()
        from invscat.io import atomic_path

        with atomic_path(path) as temporary:
            with open(temporary, "wb") as f:
                torch.save(state, f)

    @classmethod
    def load(cls, path, **expected) -> "ScatteringEstimator":
        """Load an estimator saved by :meth:`save`: a ridge, a
        :class:`~invscat.estimators.convolutional.ConvolutionalEstimator` or an
        :class:`~invscat.estimators.ensemble.EnsembleEstimator`.

        Parameters
        ----------
        path : str or Path
        **expected
            Metadata the estimator must have been fitted for (e.g. ``task='tomo', views=30, shape=(128, 128)``);
            a mismatch is a ``ValueError`` that names it.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"{path}: no such estimator file.")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            raise ValueError(f"{path}: not an invscat estimator file (it could not be read).") from None
        estimator = from_state(path, state)
        estimator.check(str(path), **expected)
        return estimator


def from_state(path, state) -> ScatteringEstimator:
    """The estimator of any kind a saved :meth:`~ScatteringEstimator.state` describes (``path`` names it in
    errors)."""
    kind = state.get("format") if isinstance(state, dict) else None
    if kind == "invscat.ConvolutionalEstimator":
        from invscat.estimators.convolutional import ConvolutionalEstimator

        return ConvolutionalEstimator.from_state(path, state)
    if kind == "invscat.RestorationEstimator":
        from invscat.estimators.restoration import RestorationEstimator

        return RestorationEstimator.from_state(path, state)
    if kind == "invscat.EnsembleEstimator":
        from invscat.estimators.ensemble import EnsembleEstimator

        return EnsembleEstimator.from_state(path, state)
    if kind != "invscat.ScatteringEstimator":
        raise ValueError(f"{path}: not an invscat scattering estimator.")
    if state.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path}: estimator format version {state.get('version')} is not supported "
                         f"(this invscat reads version {FORMAT_VERSION}); refit it with `invscat fit`.")
    if state.get("log"):
        raise ValueError(f"{path}: a log-domain estimator, which this invscat no longer reads; refit it with "
                         "`invscat fit`.")
    return _from_state(path, state, ScatteringEstimator)


def _field(path, state: dict, key: str, kinds, what: str):
    if key not in state:
        raise ValueError(f"{path}: a malformed estimator file: it lacks the field {key!r}.")
    value = state[key]
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise ValueError(f"{path}: a malformed estimator file: the field {key!r} must be {what}.")
    return value


def _from_state(path, state: dict, cls) -> "ScatteringEstimator":
    """The estimator a saved state describes, every field checked for its type and shape, naming the file."""
    number = (int, float)
    scattering = _field(path, state, "scattering", dict, "a dict of J, L and max_order")
    try:
        J, L, order = (int(scattering[k]) for k in ("J", "L", "max_order"))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: a malformed estimator file: 'scattering' must hold integers J, L and "
                         "max_order.") from None
    radius = _field(path, state, "radius", int, "an integer")
    metadata = _field(path, state, "metadata", dict, "a dict")
    try:
        estimator = cls(J=J, L=L, max_order=order, radius=radius, metadata=metadata)
    except ValueError as error:
        raise ValueError(f"{path}: a malformed estimator file: {error}") from None
    C = estimator.n_channels
    shapes = {"weights": (C * (2 * radius + 1) ** 2 + 1, C), "channel_scale": (C,)}
    for key, shape in shapes.items():
        tensor = _field(path, state, key, torch.Tensor, "a tensor")
        if tuple(tensor.shape) != shape or not tensor.is_floating_point() or not torch.isfinite(tensor).all():
            raise ValueError(f"{path}: a malformed estimator file: {key!r} must be finite numbers of shape {shape} "
                             f"for J={J}, L={L}, radius {radius}, got {tuple(tensor.shape)}.")
    estimator.weights = state["weights"].double()
    estimator.channel_scale = state["channel_scale"].double()
    estimator.ridge = _field(path, state, "ridge", number, "a number")
    estimator.validation_error = _field(path, state, "validation_error", dict, "a dict")
    estimator.lam, estimator.tv_weight = lam_weights(path, state)
    return estimator


def lam_weights(path, state: dict) -> tuple[float | None, float | None]:
    """The saved (lam, tv_weight) of an estimator, each a number >= 0 or None."""
    values = []
    for key in ("lam", "tv_weight"):
        value = state.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0):
            raise ValueError(f"{path}: a malformed estimator file: {key!r} must be a number >= 0 or None.")
        values.append(value)
    return values[0], values[1]


def _normalised(value):
    """Metadata compared as saved: tuples as lists, floats rounded."""
    if isinstance(value, (tuple, list)):
        return [_normalised(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value
