"""Numba settings in one place.

Every kernel in rgou is compiled with these options: `cache=True` so that the
second run (and CI after the first test) skips compilation, and
`error_model="numpy"` so that loops that divide can be vectorised. fastmath is
off: the features, search and trainers must be bit-reproducible.
"""

import numba

JIT_OPTIONS = dict(nogil=True, cache=True, error_model="numpy")


def njit(*args, **kwargs):
    """`numba.njit` with rgou's defaults (overridable per kernel)."""
    options = {**JIT_OPTIONS, **kwargs}
    return numba.njit(*args, **options)
