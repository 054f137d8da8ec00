"""The regulariser protocol: what a regulariser R in 0.5 ||A x - y||^2 + lam R(x) provides, and their weighted sums.

A regulariser is an object with a ``name`` and a ``value(x)`` (a scalar tensor for images ``x`` of shape
(..., M, N), summed over the batch). Each solver needs one more capability and refuses, in one sentence, a
regulariser that lacks it:

========================  =================================================  ==============================
capability                what it is                                         used by
========================  =================================================  ==============================
``smooth_value(x)``       a differentiable value (R itself, or a smoothing)  gradient solvers (L-BFGS, Adam)
``prox(x, tau)``          argmin_z 0.5 ||z - x||^2 + tau R(z)                FISTA
``normal(x)``             Q x for a quadratic R(x) = 0.5 <x, Q x>            CG
``analysis(x)``,          R(x) = ||K x|| for a linear K: K, its adjoint,     PDHG (Chambolle-Pock)
``analysis_adjoint(p)``,  the bound ``analysis_norm`` >= ||K|| and the
``project_dual(p, r)``    projection onto the dual-norm ball of radius r
========================  =================================================  ==============================

Regularisers add and scale: ``R1 + 0.5 * R2`` is a :class:`WeightedSum` that provides what all its terms provide
(value, smooth value, normal).
"""

from __future__ import annotations

CAPABILITIES = {
    "smooth_value": ("smooth_value",),
    "prox": ("prox",),
    "normal": ("normal",),
    "dual": ("analysis", "analysis_adjoint", "project_dual"),
}


class Regularizer:
    """Base class of the regularisers: the protocol of this module, and the algebra ``+`` / ``*``.

    Subclasses define ``name`` and ``value`` and the optional methods they can provide; :meth:`provides`
    reports which.

    Examples
    --------
    >>> import torch
    >>> from invscat.regularizers import Tikhonov, TotalVariation
    >>> R = TotalVariation() + 0.5 * Tikhonov("identity")
    >>> R.provides("smooth_value"), R.provides("prox")
    (True, False)
    >>> float(R.value(torch.ones(4, 4)))
    4.0
    """

    name = "regularizer"
    smooth_value = prox = normal = analysis = analysis_adjoint = project_dual = None
    analysis_norm: float | None = None

    def value(self, x):
        raise NotImplementedError

    def provides(self, capability: str) -> bool:
        """Whether this regulariser has ``capability`` ('smooth_value', 'prox', 'normal' or 'dual')."""
        return all(getattr(self, method, None) is not None for method in CAPABILITIES[capability])

    def require(self, capability: str, solver: str) -> None:
        """Raise a one-sentence TypeError if ``capability`` is missing."""
        if not self.provides(capability):
            methods = " / ".join(CAPABILITIES[capability])
            raise TypeError(f"{solver} needs a regulariser that provides {methods}, which the {self.name} "
                            f"regulariser ({type(self).__name__}) does not.")

    def __add__(self, other):
        if not isinstance(other, Regularizer):
            return NotImplemented
        return WeightedSum([(1.0, self), (1.0, other)])

    def __mul__(self, weight):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            return NotImplemented
        return WeightedSum([(float(weight), self)])

    __rmul__ = __mul__


class WeightedSum(Regularizer):
    """sum_k w_k R_k(x): value, smooth value and normal where every term provides them.

    Parameters
    ----------
    terms : list of (float, Regularizer)
        Weights (>= 0) and regularisers; nested sums are flattened.
    """

    def __init__(self, terms):
        flat = []
        for weight, term in terms:
            if not weight >= 0:
                raise ValueError(f"the weights of a sum of regularisers must be >= 0, got {weight}.")
            if isinstance(term, WeightedSum):
                flat += [(weight * w, t) for w, t in term.terms]
            else:
                flat.append((float(weight), term))
        self.terms = flat
        self.name = " + ".join(t.name if w == 1 else f"{w:g} {t.name}" for w, t in flat)
        if all(t.provides("smooth_value") for _, t in flat):
            self.smooth_value = lambda x: sum(w * t.smooth_value(x) for w, t in self.terms)
        if all(t.provides("normal") for _, t in flat):
            self.normal = lambda x: sum(w * t.normal(x) for w, t in self.terms)

    def value(self, x):
        return sum(w * t.value(x) for w, t in self.terms)
