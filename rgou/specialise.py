"""Kernels compiled once per rule set, from the one source that reads the Finkel constants.

A rule-aware module (`RULE_AWARE`) is written against module constants
(`rgou.rules.rule_constants`, the state layout of `rgou.game.state_layout`,
and what the module's own `derived_constants(rules)`, if it has one, derives
from the rule set: the solver's masks and index tables):
its kernels read `TRACKS`, `NUM_PIECES`, `CAPTURE_AGAIN`, ... as globals, which
Numba freezes into the compiled code. `specialise(module, rules)` gives the
same module for another rule set: every function the module defines is
copied with a globals dict in which those constants are the rule set's, and
in which every function of another rule-aware module is that module's copy.
So a kernel for Blitz has Blitz's tracks as constants and its branches on
`CAPTURE_AGAIN` folded away, and the Finkel kernels are the module's own,
unchanged.

The copies keep Numba's on-disk cache apart by name (the qualified name
gains ``__<rules>``, with a digest of the settings for a rule set that is not
built in): Numba's cache files are named for the function, and its index does
not hash globals.
"""

from __future__ import annotations

import hashlib
import importlib
import types
from typing import Any

import numba
from numba.core.caching import NullCache

from rgou._numba import _registered
from rgou.rules import FINKEL, RULE_SETS, RuleSet, rule_constants, rule_set

# Modules whose every rule-dependent value is a constant named in rule_constants or state_layout.
RULE_AWARE = (
    "rgou.game",
    "rgou.features",
    "rgou.heuristic",
    "rgou.leaves",
    "rgou.search",
    "rgou.agents",
    "rgou.playout",
    "rgou.selfplay",
    "rgou.notation",
    "rgou.exact",
    "rgou.solve.rules",
    "rgou.solve.index",
    "rgou.solve.lookup",
    "rgou.solve.units",
    "rgou.solve.sweep",
    "rgou.solve.solver",
)

_COPIES: dict[tuple[str, RuleSet], types.SimpleNamespace] = {}


def constants(rules: RuleSet) -> dict[str, Any]:
    """Every module constant that differs between rule sets, for `rules`."""
    from rgou.game import state_layout  # the state layout is the engine's contract

    return {**rule_constants(rules), **state_layout(rules.pieces)}


def specialise(module: types.ModuleType | str, rules: RuleSet | str) -> Any:
    """`module` (rule-aware) for `rules`: a namespace of its functions compiled for that rule set.

    Finkel returns the module itself. Other names (classes, constants) are
    the module's, with the rule set's constants in their place.
    """
    name = module if isinstance(module, str) else module.__name__
    if name not in RULE_AWARE:
        raise ValueError(f"{name} is not written for other rule sets (rule-aware modules: {', '.join(RULE_AWARE)})")
    rules = rule_set(rules, "rules")
    original = importlib.import_module(name)
    if rules == FINKEL:
        return original
    key = (name, rules)
    if key not in _COPIES:
        _COPIES[key] = _copy_module(original, rules)
    return _COPIES[key]


def _suffix(rules: RuleSet) -> str:
    """The name the compiled copies carry: the rule set's, with a digest of its settings unless it is built in."""
    if RULE_SETS.get(rules.name) == rules:
        return rules.name
    return f"{rules.name}_{hashlib.sha1(repr(rules).encode()).hexdigest()[:10]}"


def _copy_module(module: types.ModuleType, rules: RuleSet) -> types.SimpleNamespace:
    scope = dict(vars(module))
    scope.update(constants(rules))
    derived = getattr(module, "derived_constants", None)
    if derived is not None:  # constants the module derives from the rule set (tables, masks)
        scope.update(derived(rules))
    for key, value in list(scope.items()):
        source = _function_module(value)
        if source in RULE_AWARE and source != module.__name__:  # imported (perhaps renamed): the source's copy
            own_name = next(k for k, v in vars(importlib.import_module(source)).items() if v is value)
            scope[key] = getattr(specialise(source, rules), own_name)
    for key, value in list(scope.items()):
        if _function_module(value) == module.__name__:
            scope[key] = _copy_function(value, scope, _suffix(rules))
    for key, make in scope.get("RULE_DERIVED", {}).items():
        scope[key] = scope[make.__name__]()  # module data computed from the constants
    return types.SimpleNamespace(**{k: v for k, v in scope.items() if not k.startswith("__")})


def _function_module(value: object) -> str | None:
    """The module that defines `value` when it is a function or a Numba kernel, else None."""
    if isinstance(value, numba.core.registry.CPUDispatcher):
        return value.py_func.__module__
    if isinstance(value, types.FunctionType):
        return value.__module__
    return None


def _copy_function(value: Any, scope: dict, suffix: str) -> Any:
    is_kernel = isinstance(value, numba.core.registry.CPUDispatcher)
    fn = value.py_func if is_kernel else value
    copy = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = f"{fn.__qualname__}__{suffix}"
    copy.__doc__ = fn.__doc__
    copy.__module__ = fn.__module__
    if not is_kernel:
        return copy
    options = {k: v for k, v in value.targetoptions.items() if k != "nopython"}  # njit sets it; passing it warns
    cached = not isinstance(value._cache, NullCache)  # `cache` is the decorator's, not a target option
    return _registered(numba.njit(cache=cached, **options)(copy))
