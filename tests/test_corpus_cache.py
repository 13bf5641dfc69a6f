"""The corpus cache: in the user's cache folder (never beside the input), capped with
least-recently-used eviction, repaired when damaged, shown and cleared by ``nectar cache``.

Every corpus here is written by the test itself; the real files are not needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import platformdirs
import pytest

from pytest_nectar.cli import main
from pytest_nectar.corpus import cache, load_corpus
from pytest_nectar.corpus.store import StoreError, load_store
from pytest_nectar.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
POLICY = (
    "nectar_policy{version,name,error,rules}:\n  1\n  shop\n  http.status >= 500\n"
    "  rules[2]{name,description,match,action,priority}:\n"
    "    keep-errors,Errors,http.status >= 500,keep,100\n"
    "    sample-rest,Rest,true,sample(1/10),0\n"
)
RULES = (
    "RulesVersion: 2\nSamplers:\n  __default__:\n    RulesBasedSampler:\n      Rules:\n"
    "        - Name: keep errors\n          SampleRate: 1\n          Conditions:\n"
    "            - {Field: http.status_code, Operator: '>=', Value: 500, Datatype: int}\n"
    "        - Name: rest\n          SampleRate: 10\n"
)


def write_corpus(folder: Path, traces: int = 20, tag: str = "t") -> Path:
    """A small Honeycomb-events corpus: a root and a child per trace, every fifth one a 503."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for n in range(traces):
        trace_id = f"{tag}{n:04d}"
        lines.append(
            {
                "trace.trace_id": trace_id,
                "trace.span_id": f"{trace_id}-a",
                "service.name": "shop",
                "http.status_code": 503 if n % 5 == 0 else 200,
                "duration_ms": 10.0 + n,
                "timestamp": 1_700_000_000 + n,
            }
        )
        lines.append(
            {
                "trace.trace_id": trace_id,
                "trace.span_id": f"{trace_id}-b",
                "trace.parent_id": f"{trace_id}-a",
                "service.name": "db",
                "duration_ms": 2.0,
                "timestamp": 1_700_000_000 + n,
            }
        )
    path = folder / "events.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return folder


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` (hidden ones too) with size and mtime: a write changes it."""
    found = {}
    for path in [folder, *folder.rglob("*")]:
        stat = path.lstat()
        found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found


def stores(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("corpus-*"))


# --- where the cache is ------------------------------------------------------------------


def test_default_is_the_platform_cache_folder_and_nothing_is_written_beside_the_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NECTAR_CACHE_DIR")
    monkeypatch.chdir(tmp_path)
    settings = cache.cache_settings()  # the real platform folder: looked up, not written
    assert settings.root == Path(platformdirs.user_cache_dir("nectar", appauthor=False))
    assert settings.root_from == "the platform's user cache folder"
    assert (settings.max_bytes, settings.max_from) == (2 * 1024**3, "default")

    # Redirect the platform folder into tmp_path before writing anything.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # honoured on Linux
    if not sys.platform.startswith("linux"):
        redirected = str(tmp_path / "xdg" / "nectar")
        monkeypatch.setattr(platformdirs, "user_cache_dir", lambda *a, **k: redirected)
    root = cache.cache_settings().root
    assert root == tmp_path / "xdg" / "nectar"
    data = write_corpus(tmp_path / "data" / "traces")
    before = listing(tmp_path / "data")
    load_corpus(data)
    assert listing(tmp_path / "data") == before
    assert len(stores(root)) == 1


def test_cache_dir_env_and_project_setting_in_that_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.nectar]\ncache = "build/nectar-cache"\ncache_max_bytes = "5MiB"\n'
    )
    monkeypatch.chdir(project)
    monkeypatch.delenv("NECTAR_CACHE_DIR")
    settings = cache.cache_settings()
    assert settings.root == project / "build" / "nectar-cache"
    assert settings.root_from == f"[tool.nectar] cache in {project / 'pyproject.toml'}"
    assert settings.max_bytes == 5 * 1024**2
    load_corpus(write_corpus(tmp_path / "data"))
    assert len(stores(project / "build" / "nectar-cache")) == 1

    monkeypatch.setenv("NECTAR_CACHE_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("NECTAR_CACHE_MAX_BYTES", "1234")
    settings = cache.cache_settings()
    assert (settings.root, settings.root_from) == (tmp_path / "env", "$NECTAR_CACHE_DIR")
    assert (settings.max_bytes, settings.max_from) == (1234, "$NECTAR_CACHE_MAX_BYTES")
    explicit = cache.cache_settings(tmp_path / "flag")
    assert (explicit.root, explicit.root_from) == (tmp_path / "flag", "--cache-dir")


@pytest.mark.parametrize(
    "text,size",
    [("0", 0), ("2048", 2048), ("2GiB", 2 * 1024**3), ("500 MiB", 500 * 1024**2), ("3k", 3072)],
)
def test_sizes(text: str, size: int) -> None:
    assert cache.parse_size(text, "x") == size


def test_bad_sizes_are_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NECTAR_CACHE_MAX_BYTES", "lots")
    with pytest.raises(UsageError) as info:
        cache.cache_settings()
    assert info.value.message == (
        "$NECTAR_CACHE_MAX_BYTES is not a size; got 'lots'; "
        'write a whole number of bytes or a size such as "2GiB" or "500MiB"'
    )
    monkeypatch.delenv("NECTAR_CACHE_MAX_BYTES")
    (tmp_path / "nectar.toml").write_text("cache_max_bytes = -1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as info:
        cache.cache_settings()
    assert info.value.message.startswith(
        f"{tmp_path / 'nectar.toml'}:1:1: [tool.nectar] cache_max_bytes is not a size; got -1;"
    )


# --- least recently used eviction ------------------------------------------------------------


def test_size_cap_evicts_least_recently_used_never_the_new_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("NECTAR_CACHE_DIR", str(root))
    a, b, c = (write_corpus(tmp_path / name, 30, tag=name) for name in "abc")
    load_corpus(a)
    (entry_a,) = cache.entries(root)
    monkeypatch.setenv("NECTAR_CACHE_MAX_BYTES", str(int(entry_a.size * 2.5)))  # two fit
    load_corpus(b)
    os.utime(root / entry_a.path.name, (1, 1))  # a used long ago ...
    load_corpus(a)  # ... and now again: b is the least recently used
    digest_b = load_corpus(b, cache=False).digest
    load_corpus(c)
    names = stores(root)
    assert len(names) == 2
    assert entry_a.path.name in names and f"corpus-{digest_b[:40]}" not in names

    monkeypatch.setenv("NECTAR_CACHE_MAX_BYTES", "0")  # nothing fits: only the new entry stays
    d = load_corpus(write_corpus(tmp_path / "d", 5, tag="d"))
    assert stores(root) == [f"corpus-{d.digest[:40]}"]


def test_concurrent_processes_share_a_tiny_cache(tmp_path: Path) -> None:
    corpora = [write_corpus(tmp_path / f"c{i}", 40, tag=f"c{i}") for i in range(4)]
    script = textwrap.dedent(
        """
        import sys
        from pytest_nectar.corpus import load_corpus
        for _ in range(3):
            for path in sys.argv[1:]:
                corpus = load_corpus(path)
                assert corpus.n_traces == 40, corpus.n_traces
        """
    )
    env = {**os.environ, "NECTAR_CACHE_DIR": str(tmp_path / "cache")}
    env["NECTAR_CACHE_MAX_BYTES"] = "20000"  # about one entry: constant eviction
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *map(str, corpora[i:] + corpora[:i])],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    for entry in cache.entries(tmp_path / "cache"):
        load_store(entry.path)  # whatever survived is whole
    assert not list((tmp_path / "cache").glob(".tmp-*"))


# --- damaged entries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    ["truncate arrays", "empty arrays", "truncate meta", "meta not an object", "meta keys"],
)
def test_damaged_entry_is_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    root = tmp_path / "cache"
    data = write_corpus(tmp_path / "data")
    fresh = load_corpus(data, cache_dir=root)
    (entry,) = cache.entries(root)
    arrays, meta = entry.path / "arrays.bin", entry.path / "meta.json"
    if damage == "truncate arrays":
        arrays.write_bytes(arrays.read_bytes()[: arrays.stat().st_size // 2])
    elif damage == "empty arrays":
        arrays.write_bytes(b"")
    elif damage == "truncate meta":
        meta.write_bytes(meta.read_bytes()[:100])
    elif damage == "meta not an object":
        meta.write_text("[1, 2]")
    else:
        doc = json.loads(meta.read_text())
        del doc["columns"]
        meta.write_text(json.dumps(doc))
    with pytest.raises(StoreError):
        load_store(entry.path)
    again = load_corpus(data, cache_dir=root)
    assert again.trace_ids == fresh.trace_ids and again.n_rows == fresh.n_rows
    assert again.digest == fresh.digest
    (rebuilt,) = cache.entries(root)
    assert load_store(rebuilt.path).n_rows == fresh.n_rows  # whole again


def test_truncated_store_message(tmp_path: Path) -> None:
    data = write_corpus(tmp_path / "data")
    load_corpus(data, cache_dir=tmp_path / "cache")
    (entry,) = cache.entries(tmp_path / "cache")
    arrays = entry.path / "arrays.bin"
    arrays.write_bytes(arrays.read_bytes()[:64])
    with pytest.raises(StoreError) as info:
        load_store(entry.path)
    assert info.value.message.startswith(f"{entry.path}: corpus store is truncated or corrupt;")


# --- read-only inputs and the commands ---------------------------------------------------------


def test_commands_on_a_read_only_corpus_folder_write_nothing_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_corpus(tmp_path / "data" / "corpus")
    policy = tmp_path / "work" / "shop.toon"
    policy.parent.mkdir()
    policy.write_text(POLICY)
    rules = tmp_path / "work" / "rules.yaml"
    rules.write_text(RULES)
    monkeypatch.chdir(tmp_path / "work")
    for folder in (data, data.parent):
        folder.chmod(0o555)  # read-only for a normal user (root ignores it: the listing decides)
    try:
        before = listing(tmp_path / "data")
        assert main(["corpus", "stats", str(data), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["traces"] == 20
        assert main(["prove", str(policy), "--corpus", str(data), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["reports"]
        assert main(["replay", str(rules), "--corpus", str(data), "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)["decisions"]) == 20
        assert listing(tmp_path / "data") == before
    finally:
        for folder in (data.parent, data):
            folder.chmod(0o755)
    assert len(stores(Path(os.environ["NECTAR_CACHE_DIR"]))) >= 1


def test_ingest_writes_where_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_corpus(tmp_path / "data")
    before = listing(data)
    assert main(["corpus", "ingest", str(data), "-o", str(tmp_path / "store")]) == 0
    assert "20 traces" in capsys.readouterr().out
    assert len(list((tmp_path / "store").glob("corpus-*/meta.json"))) == 1
    assert listing(data) == before


# --- nectar cache info / clear -------------------------------------------------------------------


def test_cache_info_and_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cache"
    monkeypatch.setenv("NECTAR_CACHE_DIR", str(root))
    monkeypatch.setenv("NECTAR_CACHE_MAX_BYTES", "1GiB")
    load_corpus(write_corpus(tmp_path / "a", tag="a"))
    load_corpus(write_corpus(tmp_path / "b", tag="b"))
    (root / "notes.txt").write_text("not ours")  # clear only removes the cache's own entries
    stale = root / ".tmp-killed"
    stale.mkdir()

    assert main(["cache", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    total = sum(e.size for e in cache.entries(root))
    assert info["location"] == str(root) and info["location_from"] == "$NECTAR_CACHE_DIR"
    assert (info["entries"], info["bytes"], info["max_bytes"]) == (2, total, 1024**3)
    assert {s["name"] for s in info["stores"]} == set(stores(root))

    assert main(["cache", "info"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == f"location  {root}  ($NECTAR_CACHE_DIR)"
    assert text[1] == "entries   2"
    assert text[3].startswith("cap       1.0 GiB  ($NECTAR_CACHE_MAX_BYTES)")

    assert main(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("removed 2 cache entries (") and out.endswith(f" from {root}\n")
    assert stores(root) == [] and not (root / "index.json").exists() and not stale.exists()
    assert (root / "notes.txt").read_text() == "not ours"
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "never-made")]) == 0
    assert (
        capsys.readouterr().out == f"removed 0 cache entries (0 B) from {tmp_path / 'never-made'}\n"
    )
    assert not (tmp_path / "never-made").exists()
