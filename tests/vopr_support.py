"""Hand-built traces in the shape Husky gives Refinery, for the VOPR tests."""

from __future__ import annotations

from pytest_nectar.trace import Span, Trace

SERVICES = ("frontend", "checkout", "cart")
ROUTES = ("/", "/cart", "/checkout", "/product/{id}")


def make_trace(n: int, error_every: int = 10) -> Trace:
    """Trace ``n``: 1..4 child rows then the root; every 10th is a 5xx error, some statuses
    are strings (as Envoy sends them), durations are floats."""
    tid = f"{n:032x}"
    children = n % 4
    error = n % error_every == 3
    status: object = 500 if error else 200
    if n % 7 == 0:
        status = str(status)
    spans = []
    for c in range(children):
        spans.append(
            Span(
                {
                    "trace.trace_id": tid,
                    "trace.span_id": f"{n:08x}{c + 1:08x}",
                    "trace.parent_id": f"{n:08x}{0:08x}",
                    "service.name": SERVICES[(n + c + 1) % 3],
                    "name": f"child-{c}",
                    "duration_ms": 1.5 * (c + 1),
                    "status_code": 0,
                    "span.kind": "client",
                }
            )
        )
    root: dict[str, object] = {
        "trace.trace_id": tid,
        "trace.span_id": f"{n:08x}{0:08x}",
        "service.name": SERVICES[n % 3],
        "name": "GET " + ROUTES[n % 4],
        "http.route": ROUTES[n % 4],
        "http.status_code": status,
        "duration_ms": 10.0 + n,
        "status_code": 2 if error else 0,
        "span.kind": "server",
    }
    if error:
        root["error"] = True
    spans.append(Span(root, is_root=True))
    return Trace(tid, tuple(spans))


def make_traces(count: int = 40, error_every: int = 10) -> list[Trace]:
    return [make_trace(n, error_every) for n in range(count)]
