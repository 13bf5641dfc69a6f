"""Bad input: located messages (verbatim), skipping with counts, nothing lost silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from pytest_nectar.corpus import load_corpus
from pytest_nectar.errors import CorpusError, UsageError
from tests.realdata import REALDATA

DATA = REALDATA
DEMO = DATA / "otlp" / "oteltui-test_data.json"
PROTO = DATA / "otlp" / "otelproto-examples-trace.json"
EVENTS = DATA / "honeycomb" / "refinery-sampledata.json"


def _message(path: Path, **kwargs: object) -> str:
    with pytest.raises(CorpusError) as info:
        load_corpus(path, cache=False, **kwargs)  # type: ignore[arg-type]
    return info.value.message.replace(str(path.parent) + "/", "")


@pytest.mark.usefixtures("realdata")
def test_truncated_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_bytes(DEMO.read_bytes()[:3000])
    assert _message(path) == (
        "cut.jsonl:2:2335: invalid JSON: Unterminated string starting at; "
        "the file may be truncated; --skip-bad skips bad lines"
    )
    corpus = load_corpus(path, cache=False, skip_bad=True)
    assert [str(s).replace(str(tmp_path) + "/", "") for s in corpus.skipped] == [
        "cut.jsonl:1: non-trace record (OTLP logs)",
        "cut.jsonl:2: invalid JSON: Unterminated string starting at (column 2335)",
    ]
    assert corpus.n_rows == 0


@pytest.mark.usefixtures("realdata")
def test_truncated_document(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(PROTO.read_bytes()[:700])
    assert _message(path) == (
        "cut.json:31:23: invalid JSON: Expecting ':' delimiter; the file may be truncated"
    )


@pytest.mark.usefixtures("realdata")
def test_wrong_field_type_names_the_span(tmp_path: Path) -> None:
    doc = json.loads(PROTO.read_text())
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][0]["value"] = {
        "intValue": "12x"
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert _message(path) == (
        "bad.json: resourceSpans[0].scopeSpans[0].spans[0]: attribute 'my.span.attr': "
        "intValue is not an integer; got '12x'; --skip-bad skips bad records"
    )
    corpus = load_corpus(path, cache=False, skip_bad=True)
    assert corpus.n_rows == 0 and len(corpus.skipped) == 1


@pytest.mark.usefixtures("realdata")
def test_bad_span_is_skipped_whole_and_others_kept(tmp_path: Path) -> None:
    doc = json.loads(PROTO.read_text())
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    good = dict(spans[0], spanId="eee19b7ec3c1b175")
    bad = dict(spans[0], events=[{"name": "e"}], links=[{"spanId": 7}])
    spans[:] = [bad, good]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(doc))
    corpus = load_corpus(path, cache=False, skip_bad=True)
    assert corpus.n_rows == 1  # the bad span's event row was rolled back with it
    assert corpus.skipped[0].reason == (
        "resourceSpans[0].scopeSpans[0].spans[0]: link spanId must be a string; got 7"
    )


def test_unknown_format_empty_file_and_not_json(tmp_path: Path) -> None:
    (tmp_path / "u.json").write_text('{"foo": 1}')
    (tmp_path / "e.json").write_text("")
    (tmp_path / "t.json").write_text("hello\n")
    assert _message(tmp_path / "u.json") == (
        "u.json: unknown trace format; expected OTLP JSON, Jaeger JSON, Zipkin v2 JSON or "
        "Honeycomb events; got 'an object with keys foo'; "
        "force one with --format otlp|jaeger|zipkin|honeycomb"
    )
    assert _message(tmp_path / "e.json") == (
        "e.json: empty file; expected OTLP JSON, Jaeger JSON, Zipkin v2 JSON or Honeycomb events"
    )
    assert _message(tmp_path / "t.json") == (
        "t.json:1:1: not JSON; expected OTLP JSON, Jaeger JSON, Zipkin v2 JSON or "
        "Honeycomb events; got 'hello'"
    )


@pytest.mark.usefixtures("realdata")
def test_events_without_trace_id_are_counted(tmp_path: Path) -> None:
    lines = EVENTS.read_text().splitlines()
    lines.insert(2, '{"name": "no trace here", "trace.trace_id": 42}')
    path = tmp_path / "ev.jsonl"
    path.write_text("\n".join(lines) + "\n")
    corpus = load_corpus(path, cache=False)
    assert corpus.n_rows == 9
    assert [str(s).replace(str(tmp_path) + "/", "") for s in corpus.skipped] == [
        "ev.jsonl:3: event has no trace id (no non-empty string trace.trace_id or traceId)"
    ]


def test_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown trace format; got 'avro'"):
        load_corpus(PROTO, fmt="avro", cache=False)
    with pytest.raises(UsageError, match="scale must be a positive number; got -1"):
        load_corpus(PROTO, scale=-1, cache=False)
    with pytest.raises(CorpusError, match=r"nope\.json: no such file or folder"):
        load_corpus("nope.json", cache=False)


def test_cli_reports_errors_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "u.json").write_text("[1, 2]")
    assert main(["corpus", "stats", str(tmp_path / "u.json"), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path}/u.json: unknown trace format;") and "Traceback" not in err


def test_trace_id_comes_from_the_first_non_empty_string_name(tmp_path: Path) -> None:
    events = [
        {"trace.trace_id": "", "traceId": "fallback", "n": 1},
        {"trace.trace_id": 7, "traceId": "fallback", "n": 2},
        {"trace.trace_id": "main", "traceId": "ignored", "n": 3},
        {"traceId": "", "n": 4},
    ]
    path = tmp_path / "ids.json"
    path.write_text(json.dumps(events))
    corpus = load_corpus(path, cache=False)
    assert corpus.trace_ids == ("fallback", "main")
    assert [s.record for s in corpus.skipped] == [4]


def test_a_folder_without_trace_files_is_its_own_error_type(tmp_path: Path) -> None:
    from pytest_nectar.corpus import load_corpus
    from pytest_nectar.errors import CorpusError, EmptyCorpusError

    (tmp_path / "notes.txt").write_text("no traces here\n")
    with pytest.raises(EmptyCorpusError) as raised:
        load_corpus(str(tmp_path))
    assert isinstance(raised.value, CorpusError)
    assert raised.value.diagnostic.what == "folder holds no trace files"
