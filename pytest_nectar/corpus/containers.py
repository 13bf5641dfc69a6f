"""What the collector's file exporter writes around the traces: compression and framing.

Detected from the first bytes, never from the file name:

* gzip (``1f 8b``) or zstd (``28 b5 2f fd``) compression of the whole file; the content
  inside is read as it would be uncompressed, streamed (one block in memory at a time);
* ``format: proto``: length-delimited ``ExportTraceServiceRequest`` messages, each
  preceded by its size as a 4-byte big-endian unsigned integer;
* the exporter's older ``compression: zstd`` layout: the same 4-byte framing around
  messages that are each one zstd frame (holding OTLP protobuf or OTLP JSON).

Protobuf messages are decoded by the official ``opentelemetry-proto`` classes.  Their
common spans are flattened in batches (:mod:`~pytest_nectar.corpus.otlp_proto`); the exact
reading, which that path either matches or leaves the span or message to, turns a message
into the OTLP/JSON object of the same request (hex ids), which the OTLP/JSON reader reads;
so every format shares one flattening.
"""

from __future__ import annotations

import base64
import gzip
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

__all__ = [
    "ARROW",
    "GZIP",
    "PARQUET",
    "PROTO",
    "ZSTD",
    "ProtoError",
    "attribute_dicts",
    "open_decompressed",
    "parse_request",
    "proto_messages",
    "request_dict",
    "request_from_proto",
    "resource_dict",
    "scope_dict",
    "sniff",
    "span_dict",
]

GZIP: Final = "gzip"
ZSTD: Final = "zstd"
PROTO: Final = "proto"
PARQUET: Final = "parquet"
ARROW: Final = "arrow"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
#: ExportTraceServiceRequest's field 1 (resource_spans), length-delimited.
_RESOURCE_SPANS_TAG: Final = 0x0A
_BLOCK: Final = 1 << 20


class ProtoError(ValueError):
    """A length-delimited file that ends inside a message, or a message protobuf refuses."""

    def __init__(self, message: int, what: str) -> None:
        super().__init__(what)
        self.message = message
        self.what = what


def sniff(head: bytes, size: int) -> str:
    """``gzip``, ``zstd``, ``proto``, ``parquet``, ``arrow`` or ``""`` (JSON or not traces)."""
    if head.startswith(b"PAR1"):
        return PARQUET
    if head.startswith(b"ARROW1"):
        return ARROW
    if head.startswith(_GZIP_MAGIC):
        return GZIP
    if head.startswith(_ZSTD_MAGIC):
        return ZSTD
    if len(head) >= 5:
        (length,) = struct.unpack(">I", head[:4])
        body = head[4:]
        if 0 < length <= size - 4 and (
            body[0] == _RESOURCE_SPANS_TAG or body.startswith(_ZSTD_MAGIC)
        ):
            return PROTO
    return ""


def open_decompressed(path: Path, kind: str) -> IO[bytes]:
    """A streaming reader of the file's uncompressed content."""
    if kind == GZIP:
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads bytes
    if kind == ZSTD:
        return _zstd_reader(path)
    return open(path, "rb")


def _zstd_reader(path: Path) -> IO[bytes]:
    try:  # Python 3.14's standard module, else the zstandard package
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        import zstandard

        fh = open(path, "rb")  # noqa: SIM115 - the reader returned closes it
        return zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True, closefd=True)
    return zstd.open(path, "rb")  # type: ignore[no-any-return]


def _zstd_frame(data: bytes) -> bytes:
    try:
        from compression import zstd
    except ImportError:
        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as r:
            return r.read()
    return zstd.decompress(data)  # type: ignore[no-any-return]


def read_blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream in blocks that end at a line end (the last one may not)."""
    rest = b""
    while True:
        block = stream.read(_BLOCK)
        if not block:
            if rest:
                yield rest
            return
        data = rest + block
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        yield data[: cut + 1]
        rest = data[cut + 1 :]


def proto_messages(stream: IO[bytes]) -> Iterator[bytes]:
    """The payloads of a length-delimited stream, uncompressed (zstd frames are opened)."""
    index = 0
    while True:
        header = stream.read(4)
        if not header:
            return
        index += 1
        if len(header) < 4:
            raise ProtoError(index, "truncated message size (the file ends inside it)")
        (length,) = struct.unpack(">I", header)
        payload = stream.read(length)
        if len(payload) < length:
            raise ProtoError(index, f"truncated message: {len(payload)} of {length} bytes")
        if payload.startswith(_ZSTD_MAGIC):
            try:
                payload = _zstd_frame(payload)
            except Exception as err:  # zstandard.ZstdError or zstd.ZstdError
                raise ProtoError(index, f"bad zstd frame: {err}") from None
        yield payload


def parse_request(payload: bytes, index: int) -> Any:
    """One ``ExportTraceServiceRequest`` (message ``index`` of its file), decoded by the
    official classes."""
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    try:
        return ExportTraceServiceRequest.FromString(payload)
    except DecodeError as err:
        raise ProtoError(index, f"not an OTLP ExportTraceServiceRequest: {err}") from None


def request_from_proto(payload: bytes, index: int) -> dict[str, Any]:
    """One ExportTraceServiceRequest as the OTLP/JSON object the OTLP reader reads."""
    return request_dict(parse_request(payload, index))


def request_dict(message: Any) -> dict[str, Any]:
    """A decoded ExportTraceServiceRequest as the OTLP/JSON object the OTLP reader reads.

    Walked field by field (protobuf's generic ``MessageToDict`` is several times slower);
    ids become hex, as in OTLP/JSON.  Proto3 writes no absent values: a default ("" or 0)
    is what the reader takes for an absent one.
    """
    return {
        "resourceSpans": [
            {
                "resource": resource_dict(rs),
                "schemaUrl": rs.schema_url,
                "scopeSpans": [
                    {
                        "scope": scope_dict(ss),
                        "schemaUrl": ss.schema_url,
                        "spans": [span_dict(span) for span in ss.spans],
                    }
                    for ss in rs.scope_spans
                ],
            }
            for rs in message.resource_spans
        ]
    }


def resource_dict(resource_spans: Any) -> dict[str, Any]:
    """The ``resource`` object of a ``ResourceSpans`` message."""
    return {"attributes": attribute_dicts(resource_spans.resource.attributes)}


def scope_dict(scope_spans: Any) -> dict[str, Any]:
    """The ``scope`` object of a ``ScopeSpans`` message."""
    scope = scope_spans.scope
    return {
        "name": scope.name,
        "version": scope.version,
        "attributes": attribute_dicts(scope.attributes),
    }


def span_dict(span: Any) -> dict[str, Any]:
    """A ``Span`` message as its OTLP/JSON object."""
    return {
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
        "parentSpanId": span.parent_span_id.hex(),
        "traceState": span.trace_state,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": span.start_time_unix_nano,
        "endTimeUnixNano": span.end_time_unix_nano,
        "attributes": attribute_dicts(span.attributes),
        "events": [
            {
                "timeUnixNano": e.time_unix_nano,
                "name": e.name,
                "attributes": attribute_dicts(e.attributes),
            }
            for e in span.events
        ],
        "links": [
            {
                "traceId": link.trace_id.hex(),
                "spanId": link.span_id.hex(),
                "attributes": attribute_dicts(link.attributes),
            }
            for link in span.links
        ],
        "status": {"code": span.status.code, "message": span.status.message},
    }


def attribute_dicts(attributes: Any) -> list[dict[str, Any]]:
    """Repeated ``KeyValue`` messages as OTLP/JSON attribute objects."""
    return [{"key": kv.key, "value": _any_value(kv.value)} for kv in attributes]


def _any_value(value: Any) -> dict[str, Any]:
    which = value.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": value.string_value}
    if which == "int_value":
        return {"intValue": value.int_value}
    if which == "double_value":
        return {"doubleValue": value.double_value}
    if which == "bool_value":
        return {"boolValue": value.bool_value}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode("ascii")}
    if which == "array_value":
        return {"arrayValue": {"values": [_any_value(v) for v in value.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": attribute_dicts(value.kvlist_value.values)}}
    return {}
