"""``nectar cache info [--json]`` and ``nectar cache clear``: the corpus cache.

``info`` says where the cache is (and which setting put it there), how many entries it
holds, their size and the cap; ``clear`` removes every entry and says what it removed.
Only Nectar's own entries are touched, whatever folder the cache was pointed at.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cache", help="show or clear the corpus cache")
    sub = parser.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="where the cache is, its entries, size and cap")
    info.add_argument("--json", action="store_true", help="print the facts as JSON")
    clear = sub.add_parser("clear", help="remove every cache entry")
    for action in (info, clear):
        action.add_argument("--cache-dir", help="a cache folder other than the configured one")
        action.set_defaults(func=run)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.corpus import cache

    settings = cache.cache_settings(args.cache_dir)
    if args.cache_command == "clear":
        removed, freed = cache.clear(settings.root)
        what = f"{len(removed)} cache entr{'y' if len(removed) == 1 else 'ies'}"
        sys.stdout.write(f"removed {what} ({_size(freed)}) from {settings.root}\n")
        return 0
    entries = cache.entries(settings.root)
    total = sum(e.size for e in entries)
    if args.json:
        doc = {
            "location": str(settings.root),
            "location_from": settings.root_from,
            "entries": len(entries),
            "bytes": total,
            "max_bytes": settings.max_bytes,
            "max_bytes_from": settings.max_from,
            "stores": [
                {
                    "name": e.path.name,
                    "bytes": e.size,
                    "last_used": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.used)),
                }
                for e in reversed(entries)  # most recently used first
            ],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    sys.stdout.write(
        f"location  {settings.root}  ({settings.root_from})\n"
        f"entries   {len(entries)}\n"
        f"size      {_size(total)}\n"
        f"cap       {_size(settings.max_bytes)}  ({settings.max_from}); "
        "least recently used entries are evicted beyond it\n"
    )
    return 0
