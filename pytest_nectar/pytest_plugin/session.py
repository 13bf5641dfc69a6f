"""What one pytest session knows about Nectar: settings, corpora and per-policy analyses.

Everything expensive is computed at most once per session (per pytest-xdist worker): the
corpus is loaded once (through its on-disk cache, shared by every worker and run), each
policy is parsed, compiled and proven once, and every item of that policy reads the shared
result.  Collection itself only parses policies (cheap); nothing here is imported by
``plugin.py`` until a policy or a Nectar config file is collected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pytest_nectar.errors import NectarError, Position, UsageError

if TYPE_CHECKING:
    from pytest_nectar.compiler.compile import Compilation, CompiledEnvironment
    from pytest_nectar.corpus.table import TraceTable
    from pytest_nectar.policy.model import Policy
    from pytest_nectar.project.session import ProjectSession
    from pytest_nectar.project.settings import ProjectSettings
    from pytest_nectar.prover import ProofReport
    from pytest_nectar.refinery.rules_model import RulesFile

__all__ = [
    "DEFAULT_CAMPAIGNS",
    "EquivalenceResult",
    "NectarSession",
    "NectarSettings",
    "PolicyAnalysis",
    "derive_seeds",
]

DEFAULT_CAMPAIGNS: Final = ("evolution",)


@dataclass(frozen=True, slots=True)
class NectarSettings:
    """The plugin's configuration: ``[tool.nectar]`` overridden by ``--nectar-*`` options.

    Paths are absolute; ``root`` is the folder of the config file (else pytest's rootdir).
    """

    root: Path
    config_file: Path | None = None
    policies: tuple[str, ...] = ()
    corpus: tuple[Path, ...] = ()
    rules: Path | None = None
    lock: Path | None = None
    seeds: int = 1
    campaigns: tuple[str, ...] = DEFAULT_CAMPAIGNS
    window_s: float = 60.0
    seed: int | None = None
    strict: bool = False
    witnesses: int = 3
    #: The project's settings with the options merged (the one declaration and merge).
    project: ProjectSettings | None = None
    configured: bool = False  # a [tool.nectar] table or a --nectar-* option was given
    warnings: tuple[str, ...] = ()  # about the config file (unknown keys)

    def display(self, path: Path) -> str:
        """``path`` relative to the project root when inside it (messages, replay lines)."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def corpus_display(self) -> str:
        return ", ".join(self.display(p) for p in self.corpus)

    def seeds_for(self, campaign: str) -> tuple[int, ...]:
        if self.seed is not None:
            return (self.seed,)
        return derive_seeds(campaign, self.seeds)


def derive_seeds(campaign: str, count: int) -> tuple[int, ...]:
    """The default seeds of a campaign: fixed (so every xdist worker collects the same items,
    and CI reruns are reproducible), distinct per campaign, 32-bit so they stay readable."""
    import hashlib

    out = []
    for i in range(count):
        digest = hashlib.sha256(f"nectar-seed:{campaign}:{i}".encode()).digest()
        out.append(int.from_bytes(digest[:4], "big"))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class EquivalenceResult:
    """Compiled rules against the policy interpreter on (a sample of) the corpus."""

    checked: int
    total: int
    mismatches: tuple[dict[str, Any], ...]
    mismatch_count: int
    reached: Mapping[str, int]  # policy rule name -> corpus traces it decides


class _Lazy:
    """A value computed once; an exception is remembered and raised again on each use."""

    __slots__ = ("_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def get(self, compute: Any) -> Any:
        if not self._done:
            try:
                self._value = compute()
            except NectarError as err:
                self._error = err
            self._done = True
        if self._error is not None:
            raise self._error
        return self._value


@dataclass
class PolicyAnalysis:
    """One policy file and everything derived from it, each part computed once."""

    path: Path
    display: str
    session: NectarSession
    source: str = ""
    policy: Policy | None = None
    error: NectarError | None = None
    corpus_error: NectarError | None = None
    _compiled_once: _Lazy = field(default_factory=_Lazy)
    _proof_once: _Lazy = field(default_factory=_Lazy)

    def load(self) -> None:
        from pytest_nectar.policy.check import validate_policy
        from pytest_nectar.policy.parser import parse_policy

        try:
            self.source = self.path.read_text(encoding="utf-8")
            self.policy = validate_policy(
                parse_policy(self.source, path=self.display), source=self.source
            )
        except NectarError as err:
            self.error = err
        except (OSError, UnicodeDecodeError) as err:
            self.error = UsageError(
                "cannot read policy file", position=Position(self.display), got=str(err)
            )

    def require(self) -> Policy:
        if self.policy is None:
            assert self.error is not None
            raise self.error
        return self.policy

    def compilation(self) -> Compilation:
        """The policy compiled alone into a loadable rules file (with ``__default__``)."""
        from pytest_nectar.compiler.compile import compile_policies

        policy = self.require()
        result: Compilation = self._compiled_once.get(
            lambda: compile_policies([policy], sources=[self.source])
        )
        return result

    def compiled(self) -> CompiledEnvironment:
        """This policy's environment in :meth:`compilation` (rule origins, digest)."""
        return self.compilation().environments[self.require().effective_environment]

    def rules_file(self) -> RulesFile:
        return self.compilation().rules_file

    def corpus(self) -> TraceTable | None:
        return self.session.corpus()

    def proof(self) -> ProofReport:
        """The prover's report for this policy on the corpus: every property (equivalence
        included), computed once by the project session, which every item reads."""
        self.require()
        report: ProofReport = self._proof_once.get(self._prove)
        return report

    def _prove(self) -> ProofReport:
        from pytest_nectar.report.subject import policy_subject

        subject = policy_subject(
            self.require(), self.compilation(), label=self.display, path=self.display
        )
        project = self.session.project()
        try:
            project.corpus()
        except NectarError as err:
            # The all-traces proofs and static lints still run; the corpus properties come
            # back unknown and their items fail with this error.
            self.corpus_error = err
        result = project.evaluate(subject, name=self.display)
        result.raise_failure()
        assert result.proof is not None
        return result.proof

    def equivalence(self) -> EquivalenceResult | None:
        """The compiled rules against the policy interpreter; None without corpus traces."""
        if self.corpus() is None:
            return None
        result = self.proof().results.get("equivalence")
        if result is None or result.verdict.value == "unknown":
            return None
        f = result.figures
        return EquivalenceResult(
            f["checked"], f["total"], tuple(f["mismatches"]), f["mismatch_count"], f["reached"]
        )


class NectarSession:
    """Per-session state, kept in ``config.stash``."""

    def __init__(self, settings: NectarSettings) -> None:
        self.settings = settings
        self._policies: dict[Path, PolicyAnalysis] = {}
        self._globbed: frozenset[Path] | None = None
        self._lock = _Lazy()
        self._project: ProjectSession | None = None

    def analysis(self, path: Path) -> PolicyAnalysis:
        key = path.resolve()
        found = self._policies.get(key)
        if found is None:
            found = PolicyAnalysis(path, self.settings.display(path), self)
            found.load()
            self._policies[key] = found
        return found

    def policy_paths(self) -> list[Path]:
        """The configured policy files (globs under the root), else the collected ones."""
        if self.settings.policies:
            return sorted(self._configured())
        return sorted(self._policies)

    def _configured(self) -> frozenset[Path]:
        if self._globbed is None:
            found: set[Path] = set()
            for pattern in self.settings.policies:
                found.update(p.resolve() for p in self.settings.root.glob(pattern) if p.is_file())
            self._globbed = frozenset(found)
        return self._globbed

    def is_configured_policy(self, path: Path) -> bool:
        """Whether ``path`` matches the configured policy globs (any path when none is set)."""
        return not self.settings.policies or path.resolve() in self._configured()

    def lock_problems(self) -> list[str]:
        """Why the committed rules file and lock differ from compiling now (``nectar compile
        --check``, for the whole project, once); empty when both are current."""
        problems: list[str] = self._lock.get(self._check_lock)
        return problems

    def _check_lock(self) -> list[str]:
        from pytest_nectar.compiler.outputs import build_outputs, check_outputs
        from pytest_nectar.project.config import expand_policies

        settings = self.settings
        assert settings.rules is not None and settings.lock is not None
        if settings.policies:
            paths = expand_policies(settings.policies, settings.root)
        else:
            paths = sorted(self._policies)
        outputs = build_outputs(paths, settings.rules, settings.lock, settings.corpus or None)
        return check_outputs(outputs, settings.rules, settings.lock)

    def project(self) -> ProjectSession:
        """The project session every policy of this pytest session is evaluated in."""
        if self._project is None:
            from pytest_nectar.project.session import CorpusMode, ProjectSession
            from pytest_nectar.project.settings import default_settings
            from pytest_nectar.prover.properties import KNOWN_PROPERTIES

            settings = self.settings
            self._project = ProjectSession(
                settings.project or default_settings(settings.root),
                properties=KNOWN_PROPERTIES,  # the items include equivalence
                corpus_mode=CorpusMode.LENIENT,
                corpus_paths=_shown(settings.corpus),
            )
        return self._project

    def corpus(self) -> TraceTable | None:
        """The configured corpus, loaded once (None when none is configured, or a folder
        without trace files yet)."""
        if not self.settings.corpus:
            return None
        return self.project().corpus()


def _shown(paths: tuple[Path, ...]) -> list[str]:
    """Paths as messages should show them: relative to the working folder when inside it."""
    cwd = Path.cwd().resolve()
    out = []
    for path in paths:
        try:
            out.append(path.resolve().relative_to(cwd).as_posix())
        except ValueError:
            out.append(str(path))
    return out
