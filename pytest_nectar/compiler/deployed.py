"""Drift against a running Refinery: the rules it loaded and their hash, from its query API.

Refinery's router (``route/route.go``, ``route/middleware.go`` at 64a874a) serves, under
``/query/`` (GET only, each request carrying the ``X-Honeycomb-Refinery-Query`` header equal
to its ``QueryAuthToken``; without a configured token every query is refused):

* ``/query/configmetadata``: JSON ``[{"type": "config", ...}, {"type": "rules", "id": ...,
  "hash": ..., "loaded_at": ...}]``; the rules hash is the md5 of the rules file's bytes as
  Refinery read them (``loadConfigsInto``), the same md5 ``nectar.lock`` records;
* ``/query/allrules/{format}`` (``json``, ``yaml`` or ``toml``): the loaded
  ``V2SamplerConfig`` marshalled; Nectar asks for ``yaml``, whose keys are the rules file's.

A refused token is answered ``400`` with ``{"source":"refinery","error":"...: token <what
was sent> found in X-Honeycomb-Refinery-Query not authorized for query"}``: Refinery echoes
the token, so Nectar removes it from every message it shows.  The token is read from
:data:`TOKEN_ENV` and never printed.

The verdict is the hash: the deployed rules are what the lock records iff the md5s are equal
(byte-identical files).  When they differ, the loaded rules are read back and compared with
the compiled ones to name the difference (environment, sampler, rule and field); Go zero
values and omitted fields are the same thing there, as they are for Refinery.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pytest_nectar.errors import UsageError
from pytest_nectar.refinery.rules_model import RulesFile

__all__ = ["QUERY_HEADER", "TOKEN_ENV", "DeployedRules", "compare_deployed", "fetch_deployed"]

TOKEN_ENV: Final = "NECTAR_REFINERY_QUERY_TOKEN"
QUERY_HEADER: Final = "X-Honeycomb-Refinery-Query"
_TIMEOUT_S: Final = 10.0
_MAX_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True)
class DeployedRules:
    """What a Refinery reports: its rules hash and the rules it loaded."""

    url: str
    md5: str
    locations: str
    loaded_at: str
    rules_text: str


def _redact(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _get(base: str, path: str, token: str) -> bytes:
    url = base.rstrip("/") + path
    request = urllib.request.Request(url, method="GET")
    if token:
        request.add_header(QUERY_HEADER, token)
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            body: bytes = response.read(_MAX_BYTES + 1)
    except urllib.error.HTTPError as err:
        detail = _redact(err.read(4096).decode("utf-8", "replace").strip(), token)
        with contextlib.suppress(ValueError, KeyError, TypeError):
            detail = str(json.loads(detail)["error"])  # Refinery's handlerReturnWithError body
        hint = (
            f"set {TOKEN_ENV} to the Refinery's QueryAuthToken"
            if not token
            else f"check {TOKEN_ENV}: Refinery did not accept the query token"
        )
        if err.code not in (400, 401, 403):
            hint = "is this a Refinery's address?"
        said = f": {detail[:300]}" if detail else ""
        raise UsageError(
            f"the Refinery at {base} refused {path} (HTTP {err.code}){said}", hint=hint
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise UsageError(
            f"cannot reach the Refinery at {base}",
            got=_redact(str(reason), token),
            hint="check the URL (e.g. http://refinery:8080) and that it is running",
        ) from None
    if len(body) > _MAX_BYTES:
        raise UsageError(f"the Refinery at {base} answered {path} with too much data")
    return body


def fetch_deployed(base: str, token: str | None = None) -> DeployedRules:
    """Ask the Refinery at ``base`` for its rules hash and rules (token from ``TOKEN_ENV``).

    Raises:
        UsageError: unreachable, refused, or an answer that is not Refinery's.
    """
    if not base.startswith(("http://", "https://")):
        raise UsageError(
            "--deployed needs an http:// or https:// URL",
            got=base,
            hint="e.g. http://refinery:8080",
        )
    secret = token if token is not None else os.environ.get(TOKEN_ENV, "")
    meta_raw = _get(base, "/query/configmetadata", secret)
    try:
        meta = json.loads(meta_raw)
        rules_meta = next(m for m in meta if isinstance(m, dict) and m.get("type") == "rules")
        md5 = str(rules_meta["hash"])
    except (ValueError, StopIteration, KeyError, TypeError):
        raise UsageError(
            f"the Refinery at {base} answered /query/configmetadata with something else",
            got=_redact(meta_raw[:200].decode("utf-8", "replace"), secret),
            hint="expected a JSON list with a {'type': 'rules', 'hash': ...} entry",
        ) from None
    rules_text = _get(base, "/query/allrules/yaml", secret).decode("utf-8", "replace")
    return DeployedRules(
        url=base,
        md5=md5,
        locations=str(rules_meta.get("id", "")),
        loaded_at=str(rules_meta.get("loaded_at", "")),
        rules_text=rules_text,
    )


# --- naming the difference ---------------------------------------------------------------------


def _zero(value: object) -> bool:
    return (
        value is None or value == () or (not isinstance(value, float) and value in (0, "", False))
    )


def _differences(deployed: object, compiled: object, where: str, out: list[str]) -> None:
    """Field-level differences of two rules models (Go zero values equal omitted ones)."""
    if dataclasses.is_dataclass(deployed) and type(deployed) is type(compiled):
        for f in dataclasses.fields(deployed):
            if f.name == "position":
                continue
            a, b = getattr(deployed, f.name), getattr(compiled, f.name)
            key = f.metadata.get("key") or "".join(p.capitalize() for p in f.name.split("_"))
            if f.name == "value":
                if a != b or type(a) is not type(b):
                    out.append(f"{where}Value: deployed {a!r}, compiled {b!r}")
                continue
            _differences(a, b, f"{where}{key}.", out)
        return
    if isinstance(deployed, tuple) and isinstance(compiled, tuple):
        if len(deployed) != len(compiled):
            out.append(f"{where.rstrip('.')}: {len(deployed)} deployed, {len(compiled)} compiled")
        for i, (a, b) in enumerate(zip(deployed, compiled, strict=False)):
            name = (
                getattr(a, "name", None)
                if getattr(a, "name", None) == getattr(b, "name", 0)
                else None
            )
            label = f"[{i}]" + (f" {name!r}" if name else "")
            _differences(a, b, f"{where.rstrip('.')}{label}.", out)
        return
    if _zero(deployed) and _zero(compiled):
        return
    if deployed != compiled:
        out.append(f"{where.rstrip('.')}: deployed {deployed!r}, compiled {compiled!r}")


def name_differences(deployed: RulesFile, compiled: RulesFile) -> list[str]:
    """Per environment, what the deployed rules do differently from the compiled ones."""
    out: list[str] = []
    envs: Mapping[str, Any] = deployed.samplers
    for env in sorted(set(envs) | set(compiled.samplers)):
        if env not in compiled.samplers:
            out.append(f"environment {env}: deployed, not in the compiled rules")
            continue
        if env not in envs:
            out.append(f"environment {env}: compiled, not deployed")
            continue
        a, b = envs[env].select(), compiled.samplers[env].select()
        if type(a) is not type(b):
            out.append(
                f"environment {env}: deployed {getattr(a, 'KIND', None)}, "
                f"compiled {getattr(b, 'KIND', None)}"
            )
            continue
        _differences(a, b, f"environment {env}: {getattr(a, 'KIND', '')}.", out)
    return out


def compare_deployed(
    deployed: DeployedRules, lock_md5: str | None, compiled_md5: str, compiled: RulesFile
) -> list[str]:
    """Every difference between the running Refinery and ``nectar.lock``/the compiled rules."""
    from pytest_nectar.refinery.rules_reader import read_rules_text

    problems: list[str] = []
    if lock_md5 is not None and deployed.md5 != lock_md5:
        problems.append(
            f"{deployed.url}: the loaded rules' md5 is {deployed.md5}, nectar.lock records "
            f"{lock_md5} (rules loaded from {deployed.locations or '?'} at "
            f"{deployed.loaded_at or '?'})"
        )
    if deployed.md5 != compiled_md5 and (lock_md5 is None or lock_md5 != compiled_md5):
        problems.append(
            f"{deployed.url}: the loaded rules' md5 is {deployed.md5}, the policies compile "
            f"to {compiled_md5}"
        )
    if not problems:
        return problems
    served = read_rules_text(deployed.rules_text, f"{deployed.url}/query/allrules/yaml")
    differences = name_differences(served.rules_file, compiled)
    if differences:
        problems += [f"  {d}" for d in differences]
    else:
        problems.append(
            "  the loaded rules decide as the compiled ones: the deployed file differs only "
            "in bytes (comments, formatting or key order); deploy the compiled file"
        )
    return problems
