"""Value targets: what the value net learns from a sample, as one type.

A value target is a kind and, for two kinds, a parameter:

* ``outcome``: +1 if P2 won the sample's game, -1 if P1 did (cut games: no target);
* ``search``: the expert's score / win score, clipped to [-1, 1];
* ``blend:A``: A * outcome + (1 - A) * search;
* ``td:L``: the lambda-return of the value net's own predictions, the outcome at the end;
* ``exact``: 2 P(P2 wins) - 1 under perfect play, from a solved table (`rgou.exact`);
* ``exact-unrolled``: the same for the pieces before the roll.

All of them are P2's point of view. A dataset records which labels it holds
in its meta ("value_target", an English sentence kept for old files);
`ValueTarget.of_meta` reads it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rgou._numba import njit

KINDS = ("outcome", "search", "blend", "td", "exact", "exact-unrolled")
WITH_PARAMETER = ("blend", "td")  # written KIND:X with X in [0, 1]
GENERATED = ("search", "exact", "exact-unrolled")  # what `rgou generate` labels samples with
EXACT = ("exact", "exact-unrolled")
SEARCH_LABELS = "search_score / win_score, clipped to [-1, 1], P2's point of view"
EXACT_LABELS = "2 P(P2 wins) - 1 under perfect play; policy target: the perfect move"
EXACT_UNROLLED_LABELS = "2 P(P2 wins) - 1 under perfect play before the roll; policy target: the perfect move"
SPECS = "outcome, search, blend:A, td:L (A, L in [0, 1]), exact or exact-unrolled"


@dataclass(frozen=True)
class ValueTarget:
    """One value target: `kind` (one of KINDS) and `parameter` (blend's A, td's lambda; else 0)."""

    kind: str
    parameter: float = 0.0

    @classmethod
    def parse(cls, spec: str | ValueTarget) -> ValueTarget:
        """The target of a spec: outcome | search | blend:A | td:L | exact | exact-unrolled."""
        if isinstance(spec, ValueTarget):
            return spec
        if spec in KINDS and spec not in WITH_PARAMETER:
            return cls(spec)
        kind, _, number = str(spec).partition(":")
        if kind in WITH_PARAMETER:
            try:
                value = float(number)
            except ValueError:
                value = math.nan
            if 0.0 <= value <= 1.0:
                return cls(kind, value)
        raise ValueError(f"value target must be one of {SPECS}, got {spec!r}")

    @classmethod
    def of_meta(cls, meta: dict) -> ValueTarget | None:
        """The labels a dataset's meta says its value targets are (search, exact, exact-unrolled); None: unknown."""
        return {
            SEARCH_LABELS: cls("search"),
            EXACT_LABELS: cls("exact"),
            EXACT_UNROLLED_LABELS: cls("exact-unrolled"),
        }.get(meta.get("value_target"))

    @property
    def is_exact(self) -> bool:
        """Read from a solved table (and the policy target becomes the perfect move)."""
        return self.kind in EXACT

    @property
    def is_unrolled(self) -> bool:
        """The value of the pieces before the roll."""
        return self.kind == "exact-unrolled"

    @property
    def changes_per_epoch(self) -> bool:
        """Recomputed from the net's own predictions every epoch (td), so the samples must stay in game order."""
        return self.kind == "td"

    def describe(self) -> str:
        """The sentence a dataset's meta records for labels of this kind (search and exact kinds)."""
        if self.kind == "search":
            return SEARCH_LABELS
        if self.is_exact:
            return EXACT_UNROLLED_LABELS if self.is_unrolled else EXACT_LABELS
        raise ValueError(f"{self} targets are computed when training, not stored with the samples")

    def labels(self, meta: dict) -> bool:
        """True when data with this meta already holds this target's labels (exact ones need no table then)."""
        return self.of_meta(meta) == self

    def __str__(self) -> str:
        return f"{self.kind}:{self.parameter:g}" if self.kind in WITH_PARAMETER else self.kind


def check_generated(target: ValueTarget | str, afterstates: bool) -> ValueTarget:
    """The target of generated data: search, exact or exact-unrolled; afterstates need an exact one."""
    given = target
    try:
        target = ValueTarget.parse(target)
    except ValueError:
        target = None
    if target is None or target.kind not in GENERATED:
        raise ValueError(f"value_target must be search, exact or exact-unrolled, got {str(given)!r:.60}")
    if afterstates and not target.is_exact:
        raise ValueError(
            "afterstates (--afterstates): the positions after each move have no search value; "
            "use value target (--value-target) exact or exact-unrolled"
        )
    return target


def targets_of(target: ValueTarget | str, outcome: np.ndarray, search: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(targets float32 [N], weights float32 [N]) from outcomes int8 [N] and stored values float32 [N].

    Stored values are the search's or, for exact targets, the table's (the
    data was relabelled). td starts from the outcome (its returns need the net).
    """
    target = ValueTarget.parse(target)
    won = outcome.astype(np.float32)
    decided = (outcome != 0).astype(np.float32)
    if target.kind == "search" or target.is_exact:
        return np.array(search, np.float32), np.ones(len(outcome), np.float32)
    if target.kind == "blend":
        a = target.parameter
        blended = a * won + (1.0 - a) * search
        return blended.astype(np.float32), decided if a > 0 else np.ones(len(outcome), np.float32)
    return won, decided


@njit
def lambda_returns(predictions, outcome, game_id, lam):
    """TD(lambda) targets float32 [N] of samples stored game by game (P2's point of view).

    Walking each game backwards: G_last = outcome, G_t = (1 - lam) V_{t+1} + lam G_{t+1}.
    Games without an outcome (cut) get 0 (their weight is 0).
    """
    n = predictions.shape[0]
    out = np.zeros(n, dtype=np.float32)
    t = n - 1
    while t >= 0:
        g = game_id[t]
        z = np.float64(outcome[t])
        ret = z
        first = True
        while t >= 0 and game_id[t] == g:
            if first:
                ret = z
                first = False
            else:
                ret = (1.0 - lam) * predictions[t + 1] + lam * ret
            out[t] = ret if z != 0 else 0.0
            t -= 1
    return out
