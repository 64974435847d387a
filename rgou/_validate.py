"""Argument checks shared by the public functions (kernels never validate)."""

from __future__ import annotations

import numbers


def check_int(name: str, value: object, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int within [low, high] (bools rejected), else ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            bounds = f">= {low}"
        elif low is None:
            bounds = f"<= {high}"
        else:
            bounds = f"in {low}..{high}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return value


def check_float(name: str, value: object, low: float, high: float) -> float:
    """`value` as a finite float within [low, high] (bools rejected), else ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not low <= value <= high:  # also rejects NaN
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value
