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
    with pytest.raises(UsageError) as caught:  # a misspelt option is never silently ignored
        load_corpus(PROTO, skipbad=True, cache=False)  # type: ignore[call-arg]
    assert str(caught.value) == "unknown reading option; got 'skipbad'"


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


# Hostile input (issue 19): records of the wrong shape, huge numbers and deep nesting are
# located errors, or with --skip-bad skipped and counted while the good records are kept.

_TID = "0" * 31 + "1"


def _otlp(*spans: dict[str, object]) -> dict[str, object]:
    return {
        "resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": list(spans)}]}]
    }


def _span(n: int, **extra: object) -> dict[str, object]:
    span: dict[str, object] = {"traceId": _TID, "spanId": f"{n:016x}", "name": "s"}
    span.update(startTimeUnixNano="1000", endTimeUnixNano="2000")
    span.update(extra)
    return span


def _jaeger(span: dict[str, object], **trace: object) -> dict[str, object]:
    good = {"traceID": "1", "spanID": "2", "operationName": "o", "startTime": 1, "duration": 1}
    good["processID"] = "p1"
    bad = dict(good, spanID="3", **span)
    doc: dict[str, object] = {
        "traceID": "1",
        "spans": [good, bad],
        "processes": {"p1": {"serviceName": "s"}},
    }
    doc.update(trace)
    return {"data": [doc]}


def _zipkin(**extra: object) -> list[dict[str, object]]:
    good = {"traceId": "1", "id": "1", "name": "n", "timestamp": 1, "duration": 1}
    return [good, dict(good, id="2", **extra)]


def _honeycomb(**envelope: object) -> list[dict[str, object]]:
    data = {"trace.trace_id": "1", "trace.span_id": "1", "name": "x", "duration_ms": 1}
    good = {"time": "2024-01-01T00:00:00Z", "samplerate": 1, "data": data}
    return [good, dict(good, **envelope)]


BIG = int("9" * 400)
SHAPES = {
    "otlp-status-list": (
        _otlp(_span(1), _span(2, status={"code": []})),
        "spans[1]: status.code must be 0, 1, 2 or a STATUS_CODE_ name; got []",
    ),
    "otlp-kind-object": (
        _otlp(_span(1), _span(2, kind={})),
        "spans[1]: span kind must be an integer or a SPAN_KIND_ name; got {}",
    ),
    "otlp-status-huge": (
        _otlp(_span(1), _span(2, status={"code": BIG})),
        f"spans[1]: status.code must be 0, 1, 2 or a STATUS_CODE_ name; got {str(BIG)[:77]}...",
    ),
    "otlp-time-huge-int": (
        _otlp(_span(1), _span(2, startTimeUnixNano=BIG)),
        f"spans[1]: startTimeUnixNano does not fit in uint64; got {str(BIG)[:77]}...",
    ),
    "otlp-time-huge-text": (
        _otlp(_span(1), _span(2, startTimeUnixNano=str(BIG))),
        f"spans[1]: startTimeUnixNano does not fit in uint64; got '{str(BIG)[:76]}...",
    ),
    "otlp-int-attribute-4301": (
        _otlp(_span(1), _span(2, attributes=[{"key": "a", "value": {"intValue": "9" * 4301}}])),
        f"spans[1]: attribute 'a': intValue does not fit in int64; got '{'9' * 76}...",
    ),
    "otlp-double-attribute-huge": (
        _otlp(
            _span(1), _span(2, attributes=[{"key": "a", "value": {"doubleValue": BIG * 10**400}}])
        ),
        "spans[1]: attribute 'a': doubleValue is out of float64 range; got ",
    ),
    "otlp-sample-rate-huge": (
        _otlp(
            _span(1),
            _span(2, attributes=[{"key": "SampleRate", "value": {"intValue": str(2**62)}}]),
        ),
        None,  # clamped to int32 as Husky does: a result, not an error
    ),
    "otlp-array-150-deep": (
        _otlp(
            _span(1),
            _span(
                2,
                attributes=[
                    {
                        "key": "a",
                        "value": json.loads('{"arrayValue": {"values": [' * 150 + "]}}" * 150),
                    }
                ],
            ),
        ),
        "spans[1]: attribute 'a': attribute value nested deeper than 100 levels; "
        "got 'arrayValue/kvlistValue'",
    ),
    "otlp-event-name-huge": (
        _otlp(_span(1), _span(2, events=[{"name": BIG, "timeUnixNano": "1500"}])),
        f"spans[1]: span event name must be a string; got {str(BIG)[:77]}...",
    ),
    "jaeger-spans-int": (
        {"data": [*_jaeger({})["data"], {"traceID": "9", "spans": 1}]},  # type: ignore[list-item]
        "data[1]: spans must be a list; got 1",
    ),
    "jaeger-logs-int": (_jaeger({"logs": 1}), "data[0].spans[1]: logs must be a list; got 1"),
    "jaeger-pid-list": (
        _jaeger({"processID": ["p1"]}),
        "data[0].spans[1]: span processID must be a string; got ['p1']",
    ),
    "zipkin-annotations-int": (_zipkin(annotations=1), "[1]: annotations must be a list; got 1"),
    "honeycomb-rate-huge": (
        _honeycomb(samplerate=BIG),
        "samplerate does not fit in int64; got 'an integer of 400 digits'",
    ),
    "honeycomb-field-huge": (
        _honeycomb(data={"trace.trace_id": "1", "n": BIG * 10**400}),
        "field 'n': number is out of float64 range; got 'an integer of 800 digits'",
    ),
    "honeycomb-150-deep": (
        _honeycomb(data={"trace.trace_id": "1", "n": json.loads("[" * 150 + "]" * 150)}),
        "field 'n': value nested deeper than 100 levels; got '[...]'",
    ),
}


@pytest.mark.parametrize("case", sorted(SHAPES))
def test_wrong_shapes_are_located_or_skipped_and_counted(tmp_path: Path, case: str) -> None:
    doc, reason = SHAPES[case]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    if reason is None and case == "otlp-sample-rate-huge":
        corpus = load_corpus(path, cache=False)
        assert corpus.n_rows == 2 and not corpus.skipped
        return
    with pytest.raises(CorpusError) as info:
        load_corpus(path, cache=False)
    message = info.value.message.replace(str(tmp_path) + "/", "")
    assert message.startswith("bad.json: ") and message.endswith("--skip-bad skips bad records")
    if reason is not None:
        assert reason.split("; got")[0] in message
    corpus = load_corpus(path, cache=False, skip_bad=True)
    assert len(corpus.skipped) == 1
    if reason is not None:
        assert corpus.skipped[0].reason.endswith(reason) or reason in corpus.skipped[0].reason
    assert corpus.n_rows >= 1  # the good record is kept


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[" * 1000 + "]" * 1000,
            "deep.json:1:101: invalid JSON: nested deeper than Python's decoder reads; "
            "Nectar reads trace records nested at most 100 levels deep",
        ),
        (
            '[{"trace.trace_id": "1", "n": ' + "9" * 4301 + "}]",
            "deep.json: invalid JSON: a number has too many digits; "
            "got 'Exceeds the limit (4300 digits) for integer string conversion'; "
            "no trace field holds an integer of over 4,300 digits",
        ),
    ],
)
def test_documents_beyond_the_decoder_are_located(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(text)
    assert _message(path) == message


def test_json_lines_beyond_the_decoder_are_skipped_and_counted(tmp_path: Path) -> None:
    good = json.dumps({"trace.trace_id": "1", "n": 1})
    path = tmp_path / "ev.jsonl"
    path.write_text(
        "\n".join([good, "[" * 1000 + "]" * 1000, '{"n": ' + "9" * 4301 + "}", good]) + "\n"
    )
    assert _message(path) == (
        "ev.jsonl:2:101: invalid JSON: nested deeper than Python's decoder reads; "
        "the file may be truncated; --skip-bad skips bad lines"
    )
    corpus = load_corpus(path, cache=False, skip_bad=True)
    assert corpus.n_rows == 2
    assert [s.reason for s in corpus.skipped] == [
        "invalid JSON: nested deeper than Python's decoder reads (Nectar reads 100 levels)",
        "invalid JSON: a number has too many digits",
    ]
