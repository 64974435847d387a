"""Argument checks shared by the public functions (kernels never validate)."""

from __future__ import annotations

import json
import numbers

import numpy as np


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


def check_bool(name: str, value: object, none: bool = False) -> bool | None:
    """`value` as a bool (True, False or a NumPy bool; None too with `none`), else ValueError naming `name`.

    A string is refused: "no" would be true.
    """
    if value is None and none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False{' (or None)' if none else ''}, got {shown(value)}")
    return bool(value)


def check_callback(name: str, value: object) -> None:
    """None or a function, else TypeError naming `name`: checked before the work it would report on."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a function (or None), got {shown(value)}")


MAX_SHOWN = 60  # characters of a bad value quoted in an error message


def json_int(name: str, value: object, low: int, high: int, shown_as: int = MAX_SHOWN) -> int:
    """A field read from a file or a request: an integer (not a bool, not 12.0) in low..high, else ValueError.

    The messages name the field: "roll must be an integer 0..4, got '3'", "roll = 5 is out of range 0..4".
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer {low}..{high}, got {shown(value, shown_as)}")
    if not low <= value <= high:
        raise ValueError(f"{name} = {shown(value, shown_as)} is out of range {low}..{high}")
    return int(value)


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """repr(value) cut to `limit` characters, for an error message: bad input may hold anything."""
    try:
        text = repr(value)
    except RecursionError:  # a list nested almost as deep as the parser allows, with little stack left
        text = f"a {type(value).__name__} nested too deep"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class KeyGivenTwice(ValueError):
    """A JSON object with a key given twice (json.loads would keep the last value silently)."""


def unique_keys(pairs: list) -> dict:
    """A JSON object's dict (json.loads' object_pairs_hook); KeyGivenTwice if a key repeats, since which value
    counts would be a guess."""
    out = dict(pairs)
    if len(out) < len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise KeyGivenTwice(f"key {shown(key)} given twice")
            seen.add(key)
    return out


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def strict_json(text: str) -> object:
    """json.loads, refusing what it would let through quietly: NaN and Infinity, a key given twice.

    Every failure is a ValueError whose message says what is wrong ("not valid
    JSON (...)", "key 'x' given twice"), never a RecursionError.
    """
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as e:
        where = f"column {e.colno}" if e.lineno == 1 else f"line {e.lineno} column {e.colno}"
        raise ValueError(f"not valid JSON ({e.msg.removesuffix(' at')} at {where})") from None  # "...character at"
    except KeyGivenTwice as e:
        raise ValueError(str(e)) from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deep)") from None
    except ValueError as e:  # NaN/Infinity, or an integer over the int conversion limit
        if "integer string conversion" in str(e):
            raise ValueError("not valid JSON (an integer with too many digits)") from None
        raise ValueError(f"not valid JSON ({e})") from None
