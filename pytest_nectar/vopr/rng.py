"""One seeded generator family for every random choice of a simulation.

Each stream is ChaCha with 8 rounds (randomgen) behind numpy's ``Generator`` API.  Its key is
``blake2b(campaign, seed, substream)`` and its 128-bit counter starts at ``step << 64``, so the
numbers a step draws depend on (campaign, seed, step, substream) alone: any step replays without
running the steps before it, and adding or removing one substream (an evolution, a fault) leaves
the others untouched.  Nothing here reads the wall clock or the OS entropy pool.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from randomgen import ChaCha

from pytest_nectar.errors import UsageError

__all__ = [
    "ROUNDS",
    "RngFamily",
    "StepStream",
    "format_seed",
    "parse_seed",
    "replay_command",
]

ROUNDS = 8
_MAX_SEED = 2**64 - 1
_MAX_STEP = 2**64 - 1
_PERSON = b"nectar-vopr-v1"
_SEED_RE = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9]+)")


def parse_seed(text: str) -> int:
    """A seed from ``0x2a`` (hex) or ``42`` (decimal); anything else is a usage error."""
    cleaned = text.strip().replace("_", "")
    if not _SEED_RE.fullmatch(cleaned):
        raise UsageError(
            "invalid seed",
            got=text,
            hint="write it in hex like 0x2a or in decimal like 42",
        )
    value = int(cleaned, 0) if cleaned.lower().startswith("0x") else int(cleaned, 10)
    if value > _MAX_SEED:
        raise UsageError("seed out of range", got=text, hint="a seed fits in 64 bits")
    return value


def format_seed(seed: int) -> str:
    """The canonical printed form of a seed: lowercase hex, ``0x2a``."""
    _check_seed(seed)
    return f"{seed:#x}"


def replay_command(
    campaign: str, seed: int, step: int | None = None, extra: Sequence[str] = ()
) -> str:
    """The one-line command that replays a campaign run (or one step of it) exactly."""
    words = ["nectar", "vopr", *extra, "--campaign", campaign, "--seed", format_seed(seed)]
    if step is not None:
        words += ["--step", str(step)]
    return shlex.join(words)


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"a seed is an int in [0, 2**64); got {seed!r}")


def _derive_key(campaign: str, seed: int, substream: str) -> int:
    # Lengths are framed so that ("ab", "c") and ("a", "bc") cannot collide.
    h = hashlib.blake2b(digest_size=32, person=_PERSON)
    for part in (campaign.encode(), seed.to_bytes(8, "little"), substream.encode()):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return int.from_bytes(h.digest(), "little")


def _counter(step: int) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= _MAX_STEP:
        raise ValueError(f"a step is an int in [0, 2**64); got {step!r}")
    return step << 64


def _key_words(key: int) -> NDArray[np.uint32]:
    return np.array([(key >> (32 * i)) & 0xFFFFFFFF for i in range(8)], dtype=np.uint32)


_EMPTY_BLOCK = np.zeros(16, dtype=np.uint32)
_fast_seek: bool | None = None


def _seek(bits: ChaCha, key: int, words: NDArray[np.uint32], step: int) -> None:
    """Position ``bits`` at (key, counter ``step << 64``).

    Setting the documented state (key words, 128-bit counter) is about twice as fast as
    ``seed()``; ChaCha refills its block buffer when the counter sits on a block boundary.
    The first call checks that both ways give the same stream and keeps ``seed()`` otherwise.
    """
    global _fast_seek
    counter = _counter(step)
    if _fast_seek is None:
        probe = ChaCha(key=key, counter=counter, rounds=ROUNDS).random_raw(24)
        _set_state(bits, words, step)
        _fast_seek = bool(np.array_equal(bits.random_raw(24), probe))
    if _fast_seek:
        _set_state(bits, words, step)
    else:
        bits.seed(key=key, counter=counter)


def _set_state(bits: ChaCha, words: NDArray[np.uint32], step: int) -> None:
    bits.state = {
        "bit_generator": "randomgen.chacha.ChaCha",
        "state": {
            "block": _EMPTY_BLOCK,
            "keysetup": words,
            "ctr": np.array([0, step], dtype=np.uint64),
            "rounds": ROUNDS,
        },
    }


class StepStream:
    """One substream, repositioned per step: the cheap path for hot loops.

    ``at(step)`` repositions a single ChaCha in place (several times cheaper than building
    one) and returns the same ``Generator`` object each time, so a generator obtained earlier
    from this stream continues from the new position.  Use :meth:`RngFamily.generator` for a
    generator that must stay independent.
    """

    __slots__ = ("_bits", "_generator", "_key", "_words", "substream")

    def __init__(self, key: int, substream: str) -> None:
        self.substream = substream
        self._key = key
        self._words = _key_words(key)
        self._bits = ChaCha(key=key, counter=0, rounds=ROUNDS)
        self._generator = np.random.Generator(self._bits)

    def at(self, step: int) -> np.random.Generator:
        """The generator positioned at the start of ``step``."""
        _seek(self._bits, self._key, self._words, step)
        return self._generator


class RngFamily:
    """All random streams of one run, named by (campaign, seed); a stream by (step, substream)."""

    __slots__ = ("_keys", "campaign", "seed")

    def __init__(self, campaign: str, seed: int) -> None:
        _check_seed(seed)
        self.campaign = campaign
        self.seed = seed
        self._keys: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"RngFamily({self.campaign!r}, {format_seed(self.seed)})"

    def key(self, substream: str = "") -> int:
        """The 256-bit ChaCha key of a substream (cached)."""
        key = self._keys.get(substream)
        if key is None:
            key = self._keys[substream] = _derive_key(self.campaign, self.seed, substream)
        return key

    def generator(self, step: int, substream: str = "") -> np.random.Generator:
        """A fresh, independent generator for (step, substream)."""
        bits = ChaCha(key=self.key(substream), counter=_counter(step), rounds=ROUNDS)
        return np.random.Generator(bits)

    def stream(self, substream: str = "") -> StepStream:
        """A reusable :class:`StepStream` for a substream (see its caveat)."""
        return StepStream(self.key(substream), substream)

    def child_seed(self, step: int, substream: str = "") -> int:
        """A 64-bit seed derived from (step, substream), for tools that take a plain int."""
        return int(self.generator(step, substream).integers(0, 2**63, dtype=np.int64))
