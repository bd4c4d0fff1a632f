"""The synthetic Jiujiang: a city whose truth we know, with extracts as departments send them.

``generate(persons, seed, out)`` writes ``out/manifest.json``, the extracts it lists and the
ground truth in ``out/truth/`` (see docs/synth.md and docs/manifest.md).
"""

from __future__ import annotations

from canbao.synth.config import (
    DAMAGE_KINDS,
    NO_DAMAGE,
    TARGETS_2017,
    Behaviour,
    DamageRates,
    Skew,
    SynthConfig,
)
from canbao.synth.generate import generate

__all__ = [
    "DAMAGE_KINDS",
    "NO_DAMAGE",
    "TARGETS_2017",
    "Behaviour",
    "DamageRates",
    "Skew",
    "SynthConfig",
    "generate",
]
