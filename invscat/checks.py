"""Argument checks shared by the library's entry points, each failing with one sentence that names the value."""

from __future__ import annotations

import numbers

import numpy as np


def check_count(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (an integer-valued float such as 3.0 is accepted, 10.5 is not).

    >>> check_count("number of views", 30)
    30
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or int(value) != value or value < minimum:
        raise ValueError(f"the {name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)
