"""Model averaging of scattering estimators: the weighted mean of several estimators' predictions.

The papers' linear ridge and the convolutional estimator err differently: on 30-view CT validation images the
network predicts piecewise-constant images far better and photographs and textures slightly worse than the
ridge, and their mean with weights 0.3 / 0.7 gains more over TV than either (``benchmarks/RESULTS.md``, "Issue
14, session 8"). Averaging predictions is the plainest way to combine them (Breiman 1996, "Stacked regressions").
"""

from __future__ import annotations

import math

import numpy as np
import torch

from invscat.estimators.scattering import ScatteringEstimator, from_state, lam_weights

FORMAT = "invscat.EnsembleEstimator"
FORMAT_VERSION = 1


class EnsembleEstimator(ScatteringEstimator):
    """The weighted mean of fitted scattering estimators' predictions.

    Parameters
    ----------
    members : sequence of ScatteringEstimator
        Fitted estimators (ridge, convolutional) of the same ``J``, ``L`` and ``max_order``.
    weights : sequence of float, optional
        One weight >= 0 per member, normalised to sum 1 (default: equal weights).
    metadata : dict, optional
        What the ensemble is for (default: the first member's); checked as any estimator's.

    Notes
    -----
    The regulariser's channel scale (sigma) is the first member's.

    Examples
    --------
    >>> import numpy as np
    >>> from invscat.estimators import ScatteringEstimator, EnsembleEstimator
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random((8, 32, 32)).astype(np.float32)
    >>> first = truth + 0.1 * rng.standard_normal(truth.shape).astype(np.float32)
    >>> ridge = ScatteringEstimator(J=2, L=4, radius=0).fit(first, truth)
    >>> wider = ScatteringEstimator(J=2, L=4, radius=1).fit(first, truth)
    >>> ensemble = EnsembleEstimator([ridge, wider], weights=[0.3, 0.7])
    >>> tuple(ensemble.predict(first[:1]).shape), ensemble.weights
    ((1, 25, 8, 8), [0.3, 0.7])
    """

    def __init__(self, members, weights=None, metadata: dict | None = None):
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one estimator.")
        for member in members:
            if not isinstance(member, ScatteringEstimator):
                raise TypeError(f"the members of an ensemble are scattering estimators, got {type(member).__name__}.")
            if member.channel_scale is None:
                raise ValueError("every member of an ensemble must be fitted; call its fit() first.")
        first = members[0]
        settings = {(m.J, m.L, m.max_order) for m in members}
        if len(settings) > 1:
            raise ValueError(f"the members of an ensemble must share J, L and max_order, got {sorted(settings)}.")
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members) or not all(math.isfinite(w) and w >= 0 for w in weights) or not sum(weights):
            raise ValueError(f"an ensemble needs one weight >= 0 per member ({len(members)}), not all zero; "
                             f"got {weights}.")
        super().__init__(first.J, first.L, first.max_order, radius=0,
                         metadata=first.metadata if metadata is None else metadata)
        self.members = members
        self.weights = [w / sum(weights) for w in weights]
        self.channel_scale = first.channel_scale

    def fit(self, *args, **kwargs):
        raise ValueError("an ensemble is made of fitted estimators; fit its members, then combine them.")

    def predict(self, first, scattering: torch.Tensor | None = None) -> torch.Tensor:
        """The weighted mean of the members' predicted coefficients (B, C, h, w); the first reconstructions'
        scattering is computed once for all members."""
        t = first if isinstance(first, torch.Tensor) else torch.as_tensor(np.asarray(first, np.float32))
        t = t.reshape(-1, *t.shape[-2:]).float()
        s = self.scatter(t) if scattering is None else scattering
        return sum(w * member.predict(t, scattering=s) for w, member in zip(self.weights, self.members))

    def state(self) -> dict:
        """What :meth:`save` writes: the members' states, the weights, metadata and tuned prior weights."""
        return {"format": FORMAT, "version": FORMAT_VERSION, "metadata": self.metadata,
                "members": [member.state() for member in self.members], "weights": list(self.weights),
                "lam": self.lam, "tv_weight": self.tv_weight}

    @classmethod
    def from_state(cls, path, state: dict) -> "EnsembleEstimator":
        """The ensemble a saved state describes (:meth:`ScatteringEstimator.load` dispatches here), every member
        checked as a file of its own kind would be, naming the file."""
        if state.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: ensemble format version {state.get('version')} is not supported (this "
                             f"invscat reads version {FORMAT_VERSION}); rebuild it.")
        members, weights, metadata = state.get("members"), state.get("weights"), state.get("metadata")
        if not isinstance(members, list) or not isinstance(weights, list) or not isinstance(metadata, dict):
            raise ValueError(f"{path}: a malformed ensemble file: it needs a list of members, a list of weights and "
                             "a metadata dict.")
        try:
            estimator = cls([from_state(path, member) for member in members], weights, dict(metadata))
        except TypeError as error:
            raise ValueError(f"{path}: a malformed ensemble file: {error}") from None
        except ValueError as error:
            raise ValueError(f"{path}: a malformed ensemble file: {str(error).removeprefix(f'{path}: ')}") from None
        estimator.lam, estimator.tv_weight = lam_weights(path, state)
        return estimator
