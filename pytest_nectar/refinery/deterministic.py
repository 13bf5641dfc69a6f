"""Refinery's DeterministicSampler: SHA-1 of the trace id and a fixed salt, exactly.

``keep`` iff the first four bytes of ``sha1(trace_id + "5VQ8l2jE5aJLPVqk")``, read big-endian,
are ``<= MaxUint32 // rate``.  A rate ``<= 1`` keeps everything at rate 1.  Refinery computes
the bound in ``Start()`` *before* that check, so a rate whose low 32 bits are 0 (notably
``SampleRate: 0``) panics with an integer divide by zero: that raises
:class:`DeterministicSamplerCrash` here.  Test vectors (rate 10, from Refinery's
``deterministic_test.go``): ``abc123`` drop, ``def456`` keep, ``ghi789`` drop, ``""`` drop.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = [
    "SHARDING_SALT",
    "DeterministicSamplerCrash",
    "deterministic_keep",
    "deterministic_sample",
]

SHARDING_SALT: Final = "5VQ8l2jE5aJLPVqk"
_MAX_UINT32: Final = 0xFFFFFFFF


class DeterministicSamplerCrash(ValueError):
    """Refinery would panic (integer divide by zero) building this DeterministicSampler."""


def deterministic_keep(trace_id: str, rate: int) -> bool:
    """The SHA-1 keep test alone, for ``rate > 1``."""
    digest = hashlib.sha1((trace_id + SHARDING_SALT).encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:4], "big") <= _MAX_UINT32 // (rate & _MAX_UINT32)


def deterministic_sample(trace_id: str, rate: int) -> tuple[int, bool, str, str]:
    """``(rate, keep, reason, key)`` as ``DeterministicSampler.GetSampleRate`` returns them."""
    if rate & _MAX_UINT32 == 0:
        raise DeterministicSamplerCrash(
            f"DeterministicSampler with SampleRate {rate} makes Refinery panic "
            "(integer divide by zero)"
        )
    if rate <= 1:
        return 1, True, "deterministic/always", ""
    return rate, deterministic_keep(trace_id, rate), "deterministic/chance", ""
