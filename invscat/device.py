"""Choosing the torch device from a user's request."""

from __future__ import annotations

import torch

from invscat.io import InvscatError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(request: str = "auto") -> torch.device:
    """Map ``'auto' | 'cpu' | 'cuda'`` to a torch device; 'auto' picks CUDA when it is available.

    Raises
    ------
    InvscatError
        If the request is unknown, or CUDA is asked for on a machine without it.
    """
    if request not in DEVICES:
        raise InvscatError(f"unknown device {request!r}; expected one of {', '.join(DEVICES)}.")
    if request == "cuda" and not torch.cuda.is_available():
        raise InvscatError("CUDA was requested but torch sees no CUDA device on this machine; use --device cpu.")
    if request == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(request)
