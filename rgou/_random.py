"""Counter-based random numbers for the kernels: splitmix64, in one place.

A generator is a one-element uint64 array advanced by a Weyl step; each
(seed, stream) pair starts at a hashed point of the 2**64 cycle, so streams
(one per game) are independent of each other and of the thread layout.
"""

import numpy as np

from rgou._numba import njit

MAX_SEED = 2**64 - 1  # seeds and streams are uint64
GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STREAM_SALT = np.uint64(0xD1B54A32D192ED03)  # keeps hash(seed) and hash(stream) apart
_U53 = 1.0 / 9007199254740992.0  # 2**-53


@njit
def splitmix64(x):
    """The splitmix64 hash of a uint64 (x + gamma, then the finaliser)."""
    z = x + GOLDEN_GAMMA
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit
def next_u64(rng):
    """Next 64 random bits of the generator `rng` (uint64[1]), advancing it."""
    z = splitmix64(rng[0])
    rng[0] += GOLDEN_GAMMA
    return z


@njit
def next_float(rng):
    """Uniform float64 in [0, 1) from 53 random bits."""
    return (next_u64(rng) >> np.uint64(11)) * _U53


@njit
def seed_rng(seed, stream):
    """A fresh generator for stream `stream` (e.g. a game index) of `seed`: uint64[1]."""
    rng = np.empty(1, dtype=np.uint64)
    rng[0] = splitmix64(splitmix64(np.uint64(seed)) ^ splitmix64(np.uint64(stream) ^ _STREAM_SALT))
    return rng
