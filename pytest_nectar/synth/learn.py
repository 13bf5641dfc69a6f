"""The ``learn`` model: a corpus's shape without its values, for a shareable synthetic twin.

What is learned, per operation (a service's span name and kind): how often it is an entry,
which operations it calls, how often and how many times (fan-out, sequential or parallel),
its self time (a log-normal fitted robustly, plus the share of long-tail outliers), how
often it fails and how (HTTP status under which attribute and type, gRPC codes, span
status alone, exception events, escaped or not), its plain span events and the links of
consumers to producers; for the whole corpus: the request rate (over the corpus's time
span, as VOPR measures it), sample rates, traces without roots, and clock skew (a child
that starts before its parent: how often, and by how much).

What is copied verbatim (``Model.notes`` says how many of each): field names; service names,
span names, routes, HTTP methods and gRPC methods, instrumentation scope names, event names,
exception types and values of other attributes **only when they are low-cardinality: seen
in at least** :data:`MIN_TRACES` **distinct traces** (rarer names become ``service-N`` /
``operation-N``, rarer values are left out); status codes.  Never copied: ids, host names,
status and exception messages, URLs, user agents, free text, numbers other than status
codes, and any value seen in fewer than ``MIN_TRACES`` traces.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

import numpy as np

from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import CorpusError
from pytest_nectar.synth.model import Call, Failure, Model, Operation, Quirks, Service
from pytest_nectar.synth.observe import MIN_TRACES, Observer, OpKey
from pytest_nectar.trace import Trace
from pytest_nectar.vopr.campaign_setup import corpus_rate

__all__ = ["MIN_TRACES", "learn_model"]

_MAX_CHOICES: Final = 10


def _model(obs: Observer, corpus: Corpus) -> Model:
    """The model of what ``obs`` saw (names and values below the threshold left out)."""
    notes: list[str] = []
    service_names: dict[str, str] = {}
    for i, (name, traces) in enumerate(sorted(obs.service_traces.items())):
        service_names[name] = name if len(traces) >= MIN_TRACES else f"service-{i + 1}"
    op_names: dict[OpKey, tuple[str, str]] = {}
    renamed = 0
    for i, (key, op) in enumerate(sorted(obs.ops.items())):
        service = service_names[key[0]]
        name = op.name if len(op.traces) >= MIN_TRACES else f"operation-{i + 1}"
        renamed += name != op.name
        op_names[key] = (service, name)
    keys = {k: f"{op_names[k][0]}/{op_names[k][1]}/{k[2]}" for k in obs.ops}
    links: Counter[tuple[OpKey, OpKey]] = Counter()
    for consumer, producer_span in obs.pending_links:
        producer = obs.span_index.get(producer_span)
        if producer is not None and consumer in obs.ops:
            links[(producer, consumer)] += 1
            obs.linked_roots[consumer] += 1
    operations = []
    copied_values = 0
    for key, op in sorted(obs.ops.items()):
        service, name = op_names[key]
        calls = []
        for child, with_child in sorted(op.with_child.items()):
            counts = [n for (c, n) in op.children if c == child]
            calls.append(
                Call(
                    keys[child],
                    probability=round(with_child / op.count, 6),
                    repeat=(min(counts), max(counts)),
                    parallel=op.overlapped[child] * 2 > op.fanned[child] > 0,
                )
            )
        for (producer, consumer), n in sorted(links.items()):
            if producer == key:
                calls.append(Call(keys[consumer], probability=min(1.0, n / op.count), link=True))
        failures = []
        for (kind, code, etype, escaped), n in sorted(
            op.failures.items(), key=lambda kv: (kv[0][0].value, kv[0][1], kv[0][2])
        ):
            keep_type = etype if len(op.exception_types.get(etype, ())) >= MIN_TRACES else "Error"
            failures.append(
                Failure(
                    kind,
                    round(n / op.count, 6),
                    code,
                    exception_type=keep_type,
                    message="synthetic failure",
                    escaped=escaped,
                )
            )
        status_key, as_string = (
            op.status_keys.most_common(1)[0][0]
            if op.status_keys
            else ("http.response.status_code", False)
        )
        route = _common(op.routes, MIN_TRACES)
        method = _common(op.methods, MIN_TRACES)
        choices = []
        for attr, values in sorted(op.values.items()):
            present = sum(values.values())
            kept = [
                (v, c) for v, c in values.items() if len(op.value_traces[(attr, v)]) >= MIN_TRACES
            ]
            if present < op.count / 2 or not kept or len(values) > _MAX_CHOICES:
                continue
            total = sum(c for _, c in kept)
            choices.append(
                (
                    attr,
                    tuple(
                        (v, round(c / total, 6))
                        for v, c in sorted(kept, key=lambda vc: (-vc[1], str(vc[0])))
                    ),
                )
            )
            copied_values += len(kept)
        logs = np.log(np.asarray(op.self_ms, dtype=np.float64))
        median = float(np.median(logs))
        q25, q75 = (float(x) for x in np.percentile(logs, [25, 75]))
        sigma = min(2.5, max(0.05, (q75 - q25) / 1.349))
        tail = float(np.mean(logs > median + 3 * sigma))
        operations.append(
            Operation(
                key=keys[key],
                service=service,
                name=name,
                protocol=op.protocol,
                kind=key[2],
                latency_ms=round(math.exp(median), 6),
                sigma=round(sigma, 6),
                tail=round(tail, 6),
                route=route,
                method=method,
                failures=tuple(failures),
                calls=tuple(calls),
                choices=tuple(choices),
                events=tuple(
                    (n, round(min(1.0, c / op.count), 6))
                    for n, c in sorted(op.events.items())
                    if len(op.event_traces[n]) >= MIN_TRACES
                ),
                http_status_key=status_key,
                status_as_string=as_string,
                sets_status=not op.sets_status or sum(op.sets_status) * 2 >= len(op.sets_status),
            )
        )
    # traces a consumer started are drawn through their producer's link, not as entries
    entries = tuple(
        (keys[k], round(n - obs.linked_roots.get(k, 0), 6))
        for k, n in sorted(obs.entries.items())
        if n - obs.linked_roots.get(k, 0) > 0
    )
    services = tuple(
        Service(
            service_names[name],
            _common(obs.languages[name], MIN_TRACES),
            _common(obs.versions[name], MIN_TRACES),
            _common(obs.scopes[name], MIN_TRACES),
            max(1, min(5, len(obs.services[name]))),
        )
        for name in sorted(obs.service_traces)
    )
    weights = Counter(float(w) for w in corpus.weight.tolist())
    total = max(1, corpus.n_traces)
    rates = tuple((int(w), round(n / total, 6)) for w, n in sorted(weights.items()) if w > 1)
    duration = corpus.duration_s
    entry_traces = sum(n for _, n in entries)
    rate = corpus_rate(corpus) * (entry_traces / float(corpus.weight.sum() or 1.0))
    if not math.isfinite(duration) or duration <= 0:
        rate = corpus_rate(corpus)
    kept_names = sum(1 for k, v in service_names.items() if k == v)
    notes += [
        f"learned from {corpus.n_traces} traces, {corpus.n_rows} events "
        f"({', '.join(corpus.sources) or 'in memory'}); rate {rate:.6g} requests/s",
        f"copied: {kept_names} service names, {len(obs.ops) - renamed} span names "
        f"(routes, methods, scopes alike), {copied_values} low-cardinality attribute "
        f"values, status codes; each seen in at least {MIN_TRACES} traces",
        "not copied: ids, hosts, messages, URLs, numbers other than status codes, "
        f"rarer names ({len(service_names) - kept_names} services, {renamed} operations "
        "renamed) and values",
    ]
    return Model(
        name="learned",
        services=services,
        operations=tuple(operations),
        entries=entries or ((operations[0].key, 1.0),),
        rate=rate,
        quirks=Quirks(
            rootless=round(obs.rootless / max(1, obs.traces), 6),
            skew=round(len(obs.skews) / max(1, obs.traces), 6),
            skew_ms=_skew_range(obs.skews),
            sample_rates=rates,
        ),
        notes=tuple(notes),
    )


def _skew_range(leads: list[float]) -> tuple[float, float]:
    """The middle half of the clock offsets seen, in milliseconds (a default without any)."""
    if not leads:
        return Quirks().skew_ms
    low, high = np.percentile(np.asarray(leads) * 1000.0, [25, 75]).tolist()
    return (round(low, 3), round(max(high, low), 3))


def _common(seen: Mapping[str, set[int]], minimum: int) -> str:
    """The value seen in most traces if it is in enough of them to be copied, else ""."""
    if not seen:
        return ""
    value, traces = min(seen.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return value if len(traces) >= minimum else ""


def learn_model(corpus: Corpus, traces: Iterable[Trace] | None = None) -> Model:
    """The model of a corpus's traffic (see the module docstring for what is copied)."""
    observer = Observer()
    if traces is None:
        for number in range(corpus.n_traces):
            rows = slice(int(corpus.trace_offsets[number]), int(corpus.trace_offsets[number + 1]))
            observer.add(number, corpus.trace(number), corpus.row_time[rows].tolist())
    else:
        for number, trace in enumerate(traces):
            observer.add(number, trace)
    if not observer.ops:
        raise CorpusError("the corpus holds no span to learn from", position=None)
    return _model(observer, corpus)
