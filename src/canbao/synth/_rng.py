"""Deterministic random streams: one numpy Generator per named component."""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def weighted_sample(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Indices of k items drawn without replacement, probability ∝ weight (exponential keys)."""
    n = len(weights)
    k = max(0, min(int(k), int((weights > 0).sum())))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    with np.errstate(divide="ignore"):
        keys = rng.exponential(size=n) / weights
    keys[weights <= 0] = np.inf
    idx = np.argpartition(keys, k - 1)[:k]
    return np.sort(idx)
