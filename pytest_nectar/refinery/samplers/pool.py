"""Refinery's sampler wrapper and its instance sharing (``sample/sample.go``).

A :class:`DynSampler` is one configured sampler: its own trace-key builder (``FieldList``,
``UseTraceLength``) in front of a dynsampler core that may be shared.  :class:`SamplerPool`
shares cores as Refinery's ``SamplerFactory`` does: one per
``<prefix>:<type>:<configured rate>:[sorted FieldList]``, the prefix being the destination or
``rules:<destination>:`` downstream; other settings come from the config that made the core.
With ``UseClusterSize`` on any config of a shared core, its goal is
``max(GoalThroughputPerSec / peers, 1)`` (Go integer division), re-applied on every change.
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_nectar.trace import Trace

from .clock import Clocked
from .dynamic import EMAThroughput
from .rates import go_trunc_div
from .settings import SamplerSettings, parse_settings
from .throughput import TotalThroughput, WindowedThroughput
from .trace_key import TraceKey

__all__ = ["DynSampler", "SamplerPool", "build_sampler"]


class DynSampler:
    """One dynamic-family sampler as Refinery runs it, on the virtual clock."""

    def __init__(
        self, settings: SamplerSettings, core: Clocked, key_builder: TraceKey | None = None
    ) -> None:
        self.settings = settings
        self.core = core
        self.reason = settings.reason
        if key_builder is None:
            key_builder = TraceKey.from_field_list(settings.field_list, settings.use_trace_length)
        self.key_builder = key_builder

    def sample_rate(self, trace: Trace, now: float) -> tuple[int, str]:
        """Advance to ``now`` (seconds), then Refinery's ``GetSampleRate``: (rate >= 1, key).

        The keep decision is the caller's: ``rng.integers(rate) == 0`` from a seeded generator.
        """
        key, _ = self.key_builder.build(trace)
        rate = self.core.get_sample_rate_multi(key, len(trace.spans), now)
        if rate < 0:
            # uint(rate) is huge, not < 1, and rand.Intn(int(rate)) panics.
            raise RuntimeError(f"dynsampler returned {rate}: Refinery would panic in rand.Intn")
        return max(rate, 1), key

    def advance(self, now: float) -> None:
        """Run the updates due by ``now`` (seconds) without sampling anything."""
        self.core.advance(now)


def _set_goal(core: Clocked, goal: int) -> None:
    if isinstance(core, (EMAThroughput, WindowedThroughput, TotalThroughput)):
        core.set_goal_throughput_per_sec(goal)


class SamplerPool:
    """Refinery's ``SamplerFactory`` sharing of dynsampler instances, on one virtual clock."""

    def __init__(self, cluster_size: int = 1, start: float = 0.0) -> None:
        if cluster_size < 1:
            raise ValueError(f"cluster size must be at least 1; got {cluster_size}")
        self.cluster_size = cluster_size
        self.start = start
        self.cores: dict[str, Clocked] = {}
        self._cluster_goals: dict[str, int] = {}

    def get(
        self,
        kind: str,
        params: Mapping[str, object],
        *,
        destination: str,
        downstream: bool,
        start: float | None = None,
    ) -> DynSampler:
        """The sampler for one config; its core is shared with identical configs."""
        return self.get_parsed(
            parse_settings(kind, params),
            destination=destination,
            downstream=downstream,
            start=start,
        )

    def get_parsed(
        self,
        settings: SamplerSettings,
        *,
        destination: str,
        downstream: bool,
        start: float | None = None,
        key_builder: TraceKey | None = None,
    ) -> DynSampler:
        """:meth:`get` with the config already parsed (settings are immutable: callers that
        build many samplers from one config parse it once); ``key_builder`` likewise."""
        prefix = f"rules:{destination}:" if downstream else destination
        key = settings.sharing_key(prefix)
        core = self.cores.get(key)
        if core is None:
            core = settings.create(self.start if start is None else start)
            self.cores[key] = core
        if settings.is_throughput and settings.use_cluster_size:
            self._cluster_goals[key] = settings.goal
        self._apply_cluster_size()
        return DynSampler(settings, core, key_builder)

    def set_cluster_size(self, cluster_size: int) -> None:
        """Peer membership changed: recompute every cluster-sized goal."""
        if cluster_size < 1:
            raise ValueError(f"cluster size must be at least 1; got {cluster_size}")
        self.cluster_size = cluster_size
        self._apply_cluster_size()

    def _apply_cluster_size(self) -> None:
        for key, goal in self._cluster_goals.items():
            _set_goal(self.cores[key], max(go_trunc_div(goal, self.cluster_size), 1))


def build_sampler(
    kind: str,
    params: Mapping[str, object],
    *,
    destination: str,
    downstream: bool,
    cluster_size: int = 1,
    start: float = 0.0,
) -> DynSampler:
    """One unshared sampler: ``kind`` is a dynamic-family type, ``params`` its YAML map."""
    pool = SamplerPool(cluster_size=cluster_size, start=start)
    return pool.get(kind, params, destination=destination, downstream=downstream)
