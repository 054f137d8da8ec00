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


def available_memory(device=None) -> int:
    """Bytes that a new allocation can use now: free GPU memory on a CUDA device, else the system's available
    memory (``MemAvailable`` on Linux, the physical memory elsewhere)."""
    device = torch.device("cpu") if device is None else torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        import os
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(needed: float, what: str, device=None) -> None:
    """Refuse, in one sentence, a problem whose estimated working memory exceeds what ``device`` has free."""
    have = available_memory(device)
    if needed > have:
        raise MemoryError(f"{what} needs about {needed / 2**30:.1f} GiB of memory and "
                          f"{'the GPU' if device is not None and torch.device(device).type == 'cuda' else 'this machine'}"
                          f" has {have / 2**30:.1f} GiB free; use a smaller image, factor or batch.")
