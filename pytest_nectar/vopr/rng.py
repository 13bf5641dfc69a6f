"""One seeded generator family for every random choice of a simulation.

Each stream is ChaCha with 8 rounds (randomgen) behind numpy's ``Generator`` API.  Its key is
``blake2b(campaign, seed, substream)`` and its 128-bit counter starts at ``step << 64``, so the
numbers a step draws depend on (campaign, seed, step, substream) alone: any step replays without
running the steps before it, and adding or removing one substream (an evolution, a fault) leaves
the others untouched.  Nothing here reads the wall clock or the OS entropy pool.
"""

from __future__ import annotations

import ctypes
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


def _check_step(step: int) -> None:
    if (step.__class__ is not int or not 0 <= step <= _MAX_STEP) and (
        isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= _MAX_STEP
    ):
        raise ValueError(f"a step is an int in [0, 2**64); got {step!r}")


def _counter(step: int) -> int:
    _check_step(step)
    return step << 64


def _key_words(key: int) -> NDArray[np.uint32]:
    return np.array([(key >> (32 * i)) & 0xFFFFFFFF for i in range(8)], dtype=np.uint32)


_EMPTY_BLOCK = np.zeros(16, dtype=np.uint32)
# randomgen's ``chacha_state_t``: block[16] (uint32), keysetup[8] (uint32), ctr[2] (uint64).
_KEY_OFFSET = 64
_CTR_OFFSET = 96
_fast_seek: str | None = None  # "memory", "state" or "seed": the fastest way that checked out


def _seek(stream: StepStream, step: int) -> None:
    """Position the stream's ChaCha at (key, counter ``step << 64``).

    Writing the key words and the 128-bit counter straight into the generator's C state (a
    numpy view of it) takes about a microsecond; setting the documented ``state`` dict about
    25, ``seed()`` about 40.  ChaCha refills its block buffer when the counter sits on a block
    boundary, so the stale block is never read.  The first call checks each fast way against
    freshly seeded ChaChas (several keys, steps, a half-used buffer) and keeps the first one
    that gives the same streams; ``seed()`` is the fallback.
    """
    global _fast_seek
    if _fast_seek is None:
        _fast_seek = _choose_seek()
    _check_step(step)
    if _fast_seek == "memory":
        _write_state(stream._view, stream._words64, step)
    elif _fast_seek == "state":
        _set_state(stream._bits, stream._words, step)
    else:
        stream._bits.seed(key=stream._key, counter=step << 64)


def _state_view(bits: ChaCha) -> NDArray[np.uint64]:
    """The first 112 bytes of ``chacha_state_t`` as 14 uint64 (keysetup 8..11, ctr 12..13)."""
    raw = (ctypes.c_uint64 * 14).from_address(bits.ctypes.state_address)
    return np.ctypeslib.as_array(raw)


def _write_state(view: NDArray[np.uint64], words64: NDArray[np.uint64], step: int) -> None:
    view[8:12] = words64
    view[12] = 0
    view[13] = step


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


def _choose_seek() -> str:
    cases = [(3, 0), (2**255 + 12345, 7), (2**200 - 1, 2**64 - 1)]
    for way in ("memory", "state"):
        bits = ChaCha(key=99, counter=5, rounds=ROUNDS)
        bits.random_raw(3)  # mid-block: a stale buffer must not leak into the new position
        ok = True
        for key, step in cases:
            probe = ChaCha(key=key, counter=_counter(step), rounds=ROUNDS).random_raw(37)
            words = _key_words(key)
            try:
                if way == "memory":
                    _write_state(_state_view(bits), words.view(np.uint64), step)
                else:
                    _set_state(bits, words, step)
            except Exception:  # an unexpected build of randomgen: fall back
                ok = False
                break
            ok = ok and bool(np.array_equal(bits.random_raw(37), probe))
        if ok:
            return way
    return "seed"


class StepStream:
    """One substream, repositioned per step: the cheap path for hot loops.

    ``at(step)`` repositions a single ChaCha in place (several times cheaper than building
    one) and returns the same ``Generator`` object each time, so a generator obtained earlier
    from this stream continues from the new position.  Use :meth:`RngFamily.generator` for a
    generator that must stay independent.
    """

    __slots__ = ("_bits", "_generator", "_key", "_view", "_words", "_words64", "substream")

    def __init__(self, key: int, substream: str) -> None:
        self.substream = substream
        self._key = key
        self._words = _key_words(key)
        self._bits = ChaCha(key=key, counter=0, rounds=ROUNDS)
        self._generator = np.random.Generator(self._bits)
        self._words64 = self._words.view(np.uint64)
        self._view = _state_view(self._bits)  # valid as long as _bits lives

    def at(self, step: int) -> np.random.Generator:
        """The generator positioned at the start of ``step``."""
        _seek(self, step)
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
