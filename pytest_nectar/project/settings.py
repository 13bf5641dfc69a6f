"""The project's settings, declared once: every ``[tool.nectar]`` key and its option forms.

:data:`SETTINGS` is the one list.  Each :class:`Setting` has its key, the words for its
type, its default, its meaning, its ``nectar`` command-line option and its ``--nectar-*``
pytest option (None where there is none), and one converter that validates a raw value.
The config file is ``[tool.nectar]`` in ``pyproject.toml`` or the top-level keys of a
``nectar.toml``, found from a folder upwards; paths are relative to its folder, and a bad
value is reported at the key's line and column.

Precedence, most specific first (:class:`Source`)::

    command line  >  the policy file's own field  >  [tool.nectar]  >  built-in default

Every effective value remembers its :class:`Origin`, so reports and ``--json`` outputs say
where it came from (:meth:`ProjectSettings.to_json`).  Only the ``error`` expression has a
policy field of the same meaning (``error``); :func:`resolve_error` applies the order to it.
Expressions are parsed here, once, at their true position; nothing below the front ends
receives expression text.  Unknown keys are warnings, not errors, so a newer project file
still works with an older Nectar.  The match parser (lark) is imported only when ``error``
is set, so loading settings stays cheap for the pytest plugin.
"""

from __future__ import annotations

import difflib
import enum
import glob
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pytest_nectar.errors import Position, UsageError
from pytest_nectar.fileio import is_url
from pytest_nectar.limits import BEYOND_DECODER, beyond_decoder

if TYPE_CHECKING:
    from pytest_nectar.policy.model import Expr, Policy

__all__ = [
    "CAMPAIGN_NAME",
    "KNOWN_KEYS",
    "SEED_OPTION",
    "SETTINGS",
    "WITNESSES_OPTION",
    "Origin",
    "ProjectSettings",
    "Resolved",
    "Setting",
    "Source",
    "Traffic",
    "default_settings",
    "expand_policies",
    "find_config",
    "load_settings",
    "option_dest",
    "parse_cli_error",
    "parse_error_expression",
    "parse_traffic",
    "plugin_options",
    "resolve_error",
    "setting",
]


class Source(enum.Enum):
    """Where an effective value came from, most specific first."""

    COMMAND_LINE = "command line"
    POLICY = "policy"
    CONFIG = "[tool.nectar]"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Origin:
    """A value's source and, where there is one, its position (key, policy field, option)."""

    source: Source
    position: Position | None = None

    def __str__(self) -> str:
        return self.source.value if self.position is None else f"{self.position}"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source.value,
            "where": None if self.position is None else str(self.position),
        }


DEFAULT_ORIGIN: Final = Origin(Source.DEFAULT)


@dataclass(frozen=True, slots=True)
class Resolved:
    """An effective value and where it came from."""

    value: Any
    origin: Origin


class _Invalid(ValueError):
    """A raw value a converter refuses; ``args[0]`` is the hint."""


#: A VOPR campaign name as a setting accepts it.
CAMPAIGN_NAME: Final = re.compile(r"^[A-Za-z0-9_-]+$")


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _Invalid("write a string or a list of strings")


def _path(example: str) -> Callable[[object], str]:
    def convert(value: object) -> str:
        if not isinstance(value, str) or not value:
            raise _Invalid(f'write a path such as "{example}"')
        return value

    return convert


def _positive(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _Invalid("a positive number of seconds, e.g. 60")
    return float(value)


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid("a whole number >= 0")
    return value


def _rows(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Invalid("a whole number of events > 0, e.g. 1000000")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("write true or false")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid('write a name, e.g. "claude-sonnet-4-5"')
    return value


def _expression(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid('a match expression, e.g. "http.status >= 500"')
    return value


def _size(value: object) -> int | str:
    # The size text ("2GiB") is read by the cache (corpus.cache.parse_size), which names it.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Invalid('a number of bytes or a size such as "2GiB"')
    return value


def _cluster(value: object) -> str:
    # Checked for form only; prover.distributed connects and names an unreachable one.
    if not isinstance(value, str) or not (
        re.fullmatch(r"local:[1-9][0-9]{0,3}", value) or re.fullmatch(r"[a-z0-9+.-]+://\S+", value)
    ):
        raise _Invalid('local:N (N worker processes here) or an address such as "tcp://host:8786"')
    return value


def _storage(value: object) -> str:
    # Reached when the stores are published (corpus.remote names an unknown protocol).
    if not isinstance(value, str) or not value.strip():
        raise _Invalid('a folder every worker reads, or a URL such as "s3://bucket/nectar"')
    return value


_TRAFFIC: Final = re.compile(
    r"\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*(traces|events)/s\s*\Z"
)


@dataclass(frozen=True, slots=True)
class Traffic:
    """A production rate: ``amount`` traces/s (``unit="traces"``) or events/s."""

    amount: float
    unit: str

    def __str__(self) -> str:
        return f"{self.amount:g} {self.unit}/s"


def parse_traffic(text: str) -> Traffic | None:
    """``"2000 traces/s"`` -> Traffic(2000, "traces"); None when the text is not one."""
    m = _TRAFFIC.match(text)
    if m is None or not float(m.group(1)) > 0:
        return None
    return Traffic(float(m.group(1)), m.group(2))


def _traffic(value: object) -> Traffic:
    found = parse_traffic(value) if isinstance(value, str) else None
    if found is None:
        raise _Invalid('a rate such as "2000 traces/s" or "15000 events/s"')
    return found


def _campaigns(value: object) -> tuple[str, ...]:
    if isinstance(value, str):  # the command-line form: comma-separated
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _Invalid('write a list of campaign names, e.g. ["evolution"]')
    names = tuple(v.strip() for v in value if v.strip())
    for name in names:
        if not CAMPAIGN_NAME.match(name):
            raise _Invalid(f"invalid campaign name {name!r}: letters, digits, '-' and '_' only")
    return names


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``[tool.nectar]`` key: how it is written, checked and overridden."""

    key: str
    kind: str  # the type in words, as the README and the error hints say it
    default: Any
    meaning: str
    convert: Callable[[object], Any] = field(repr=False)
    option: str | None = None  # the `nectar` command-line form
    plugin_option: str | None = None  # the pytest form
    #: False: where or how the run happens, never what it finds (absent from the reports,
    #: so a run's output is the same bytes whichever way it ran).
    in_reports: bool = True


#: Every ``[tool.nectar]`` key, in the README's order.
SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("policies", "glob or list of globs", (), "the .toon policies",
            _strings, "POLICY... (arguments)", "--nectar-policies"),
    Setting("corpus", "path or list of paths", None, "trace files or folders",
            _strings, "--corpus", "--nectar-corpus"),
    Setting("rules", "path", "rules.yaml", "the compiled Refinery rules file",
            _path("rules.yaml"), "-o", "--nectar-rules"),
    Setting("lock", "path", "nectar.lock", "the lockfile",
            _path("nectar.lock"), "--lock", "--nectar-lock"),
    Setting("window_s", "number > 0", 60.0, "the budget's peak window in seconds",
            _positive, "--window", "--nectar-window"),
    Setting("error", "match expression", None,
            "the error expression where a policy sets none (default: default_errors)",
            _expression, "--error", None),
    Setting("traffic", '"N traces/s" or "N events/s"', None,
            "the production rate the corpus stands for: the budget and simulations run at it",
            _traffic, "--traffic", None),
    Setting("seeds", "whole number >= 0", 1, "simulation seeds per campaign",
            _count, None, "--nectar-seeds"),
    Setting("campaigns", "list of names", ("evolution",), "simulation campaigns (pytest items)",
            _campaigns, "--campaign", "--nectar-campaigns"),
    Setting("strict", "bool", False, "warnings (lints) fail the run",
            _bool, "--strict", "--nectar-strict"),
    Setting("model", "text", None, "the Claude model (propose)",
            _text, "--model", None),
    Setting("cache", "path", None, "the corpus cache folder (default: the user's cache folder)",
            _path(".cache/nectar"), None, None),
    Setting("cache_max_bytes", "whole number or size", None,
            "the corpus cache's size cap (default 2 GiB)", _size, None, None),
    Setting("partition_rows", "whole number > 0", 1_000_000,
            "events per partition: a larger corpus is read into partitions by trace id and "
            "streamed, never held in memory whole", _rows, "--partition-rows", None,
            in_reports=False),
    Setting("cluster", "address", None,
            "a Dask cluster for the corpus evaluation (local:N or tcp://host:8786)",
            _cluster, "--cluster", None, in_reports=False),
    Setting("cluster_storage", "path or URL", None,
            "where a cluster's workers read the corpus stores when they do not share this "
            "disk (a shared folder, or an fsspec URL such as s3://bucket/nectar)",
            _storage, "--cluster-storage", None, in_reports=False),
)  # fmt: skip
KNOWN_KEYS: Final = tuple(s.key for s in SETTINGS)
#: ``--nectar-*`` options of one run, not project settings (the plugin and its rerun lines).
SEED_OPTION: Final = "--nectar-seed"
WITNESSES_OPTION: Final = "--nectar-witnesses"
_BY_KEY: Final = {s.key: s for s in SETTINGS}


def setting(key: str) -> Setting:
    return _BY_KEY[key]


# -- where a key is written -----------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(#.*)?$")
_PART = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)"""
_KEY = re.compile(rf"^(\s*)({_PART}(?:\s*\.\s*{_PART})*)\s*=\s*")


def _table_name(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in raw.split("."))


def key_positions(text: str, table: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
    """Key -> (line, key column, value column), 1-based, of the keys written in ``table``.

    A line scanner, not a TOML parser: the file has already parsed (``tomllib``), so only
    the lines that start with ``key =`` matter.  Lines inside a multi-line string or array
    are skipped; dotted keys (``nectar.error = ...`` under ``[tool]``) are found too.
    """
    out: dict[str, tuple[int, int, int]] = {}
    current: tuple[str, ...] = ()
    depth = 0  # open brackets of a multi-line array or inline table
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        if depth > 0:
            depth = max(0, depth + _brackets(line))
            continue
        header = _HEADER.match(line)
        if header is not None:
            current = _table_name(header.group(1))
            continue
        if _ARRAY_HEADER.match(line):
            current = ("[[]]",)  # an array of tables: never the Nectar table
            continue
        found = _KEY.match(line)
        if found is None:
            continue
        path = current + _table_name(found.group(2))
        if path[:-1] == table and path[-1] not in out:
            out[path[-1]] = (number, len(found.group(1)) + 1, found.end() + 1)
        rest = line[found.end() :]
        for quote in ('"""', "'''"):
            if rest.startswith(quote) and rest.count(quote) == 1:
                in_string = quote
        depth = max(0, _brackets(rest))
    return out


def _brackets(text: str) -> int:
    without = re.sub(r"\"(\\.|[^\"\\])*\"|'[^']*'|#.*$", "", text)
    return without.count("[") - without.count("]")


# -- the config file ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """The config file found: its path, raw Nectar table, text and the table's name."""

    path: Path
    values: dict[str, Any]
    text: str
    table: tuple[str, ...]

    @property
    def root(self) -> Path:
        return self.path.parent

    def position(self, key: str, *, value: bool = False) -> Position:
        """Where ``key`` (or its value) is written; the file alone when it cannot be found."""
        where = key_positions(self.text, self.table).get(key)
        if where is None:
            return Position(str(self.path))
        line, key_col, value_col = where
        return Position(str(self.path), line, value_col if value else key_col)

    def source_line(self, line: int) -> str | None:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else None


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    from pytest_nectar.compiler.lockfile import toml_error_position

    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), text
    except OSError as err:
        raise UsageError(
            "cannot read config file", position=Position(str(path)), got=err.strerror
        ) from None
    except UnicodeDecodeError:
        raise UsageError("config file is not UTF-8", position=Position(str(path))) from None
    except tomllib.TOMLDecodeError as err:
        what, where = toml_error_position(err, str(path))
        raise UsageError(f"config file is not valid TOML: {what}", position=where) from None
    except BEYOND_DECODER as err:
        raise UsageError(
            f"config file is not valid TOML: {beyond_decoder(err)}", position=Position(str(path))
        ) from None


def find_config(start: str | os.PathLike[str] | None = None) -> ConfigFile | None:
    """The nearest ``nectar.toml`` or ``pyproject.toml`` with ``[tool.nectar]`` at or above."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "nectar.toml"
        if own.is_file():
            values, text = _read_toml(own)
            return ConfigFile(own, values, text, ())
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            values, text = _read_toml(pyproject)
            tool = values.get("tool", {})
            table = tool.get("nectar") if isinstance(tool, dict) else None
            if isinstance(table, dict):
                return ConfigFile(pyproject, table, text, ("tool", "nectar"))
    return None


# -- the settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectSettings:
    """Every effective setting, with where it came from; paths are absolute-ish (root-based).

    Build with :func:`load_settings`, then :meth:`with_options` for the command line.
    """

    path: Path | None
    root: Path
    values: Mapping[str, Resolved]
    warnings: tuple[str, ...] = ()
    #: ``error`` parsed (None when not set); parsed where it was read, with its position.
    error_expr: Expr | None = None

    def resolved(self, key: str) -> Resolved:
        return self.values[key]

    def origin(self, key: str) -> Origin:
        return self.values[key].origin

    def _get(self, key: str) -> Any:
        return self.values[key].value

    def _root_paths(self, key: str) -> tuple[Path, ...] | None:
        raw = self._get(key)
        if raw is None:
            return None
        # Command-line paths stay as given (relative to where the command runs).
        base = self.root if self.origin(key).source is Source.CONFIG else Path()
        return tuple(base / p for p in raw)

    def _root_path(self, key: str) -> Path | None:
        raw = self._get(key)
        if raw is None:
            return None
        base = self.root if self.origin(key).source is not Source.COMMAND_LINE else Path()
        return base / str(raw)

    @property
    def policies(self) -> tuple[str, ...]:
        return tuple(self._get("policies"))

    @property
    def corpus(self) -> tuple[Path, ...] | None:
        return self._root_paths("corpus")

    @property
    def rules(self) -> Path:
        path = self._root_path("rules")
        assert path is not None
        return path

    @property
    def lock(self) -> Path:
        path = self._root_path("lock")
        assert path is not None
        return path

    @property
    def window_s(self) -> float:
        return float(self._get("window_s"))

    @property
    def error(self) -> str | None:
        """The error expression's text as written (``error_expr`` is what is used)."""
        value: str | None = self._get("error")
        return value

    @property
    def traffic(self) -> Traffic | None:
        value: Traffic | None = self._get("traffic")
        return value

    @property
    def seeds(self) -> int:
        return int(self._get("seeds"))

    @property
    def campaigns(self) -> tuple[str, ...]:
        return tuple(self._get("campaigns"))

    @property
    def strict(self) -> bool:
        return bool(self._get("strict"))

    @property
    def model(self) -> str | None:
        value: str | None = self._get("model")
        return value

    @property
    def cache(self) -> Path | None:
        return self._root_path("cache")

    @property
    def cluster(self) -> str | None:
        value: str | None = self._get("cluster")
        return value

    @property
    def cluster_storage(self) -> str | None:
        """A URL as written, or a folder made absolute (workers do not share our cwd)."""
        value: str | None = self._get("cluster_storage")
        if value is None or is_url(value):
            return value
        path = self._root_path("cluster_storage")
        assert path is not None
        return str(path.absolute())

    @property
    def partition_rows(self) -> int:
        return int(self._get("partition_rows"))

    @property
    def cache_max_bytes(self) -> int | str | None:
        value: int | str | None = self._get("cache_max_bytes")
        return value

    def policy_files(self) -> list[Path]:
        """The policy globs expanded (sorted, each glob's matches in order, no duplicates)."""
        base = self.root if self.origin("policies").source is Source.CONFIG else Path()
        return expand_policies(self.policies, base)

    def with_options(self, *, plugin: bool = False, **given: object) -> ProjectSettings:
        """These settings with command-line values (None: not given) taking precedence.

        Keys are setting keys; an ``error`` value is parsed here, at its option's position.
        ``plugin``: the values are ``--nectar-*`` options (named so in messages).

        Raises:
            UsageError: a value the setting's converter refuses.
        """
        values = dict(self.values)
        error_expr = self.error_expr
        for key, raw in given.items():
            if raw is None:
                continue
            spec = _BY_KEY[key]
            name = (spec.plugin_option if plugin else spec.option) or key
            try:
                value = spec.convert(raw)
            except _Invalid as err:
                raise UsageError(f"{name} has a wrong value", got=raw, hint=str(err)) from None
            origin = Origin(Source.COMMAND_LINE, Position(name))
            values[key] = Resolved(value, origin)
            if key == "error":
                error_expr = parse_cli_error(value, name)
        return replace(self, values=values, error_expr=error_expr)

    def with_values(self, source: Source, **given: object) -> ProjectSettings:
        """These settings with already-valid values from ``source`` (an ``error`` value is
        a parsed expression); for callers with values in hand (the Python API)."""
        values = dict(self.values)
        error_expr = self.error_expr
        for key, value in given.items():
            if key == "error":
                error_expr = value  # type: ignore[assignment]
                value = None if value is None else "(parsed)"
            values[key] = Resolved(value, Origin(source))
        return replace(self, values=values, error_expr=error_expr)

    def to_json(self) -> dict[str, Any]:
        """Each effective setting and where it came from (for ``--json`` outputs)."""
        out: dict[str, Any] = {}
        for key, resolved in self.values.items():
            if key in _BY_KEY and not _BY_KEY[key].in_reports:
                continue
            value = resolved.value
            if isinstance(value, tuple):
                value = list(value)
            out[key] = {"value": value, "from": resolved.origin.to_json()}
        return out


def expand_policies(patterns: tuple[str, ...] | list[str], root: Path) -> list[Path]:
    out: list[Path] = []
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(root / pattern)
        # An existing file is itself, even when its name has glob characters ('p[1].toon').
        explicit = not glob.has_magic(full) or os.path.exists(full)
        matches = [full] if explicit else sorted(glob.glob(full, recursive=True))
        for m in matches:
            p = Path(m)
            if p not in out:
                out.append(p)
    return out


def _defaults() -> dict[str, Resolved]:
    return {s.key: Resolved(s.default, DEFAULT_ORIGIN) for s in SETTINGS}


def default_settings(root: Path | None = None) -> ProjectSettings:
    """The built-in defaults alone (no config file read), e.g. for the Python API."""
    return ProjectSettings(None, root if root is not None else Path.cwd(), _defaults())


def load_settings(
    start: str | os.PathLike[str] | None = None, *, expressions: bool = True
) -> ProjectSettings:
    """The settings of the project at or above ``start`` (defaults when there is none).

    ``expressions=False`` leaves ``error`` unparsed (``error_expr`` None), for readers of
    other keys only (the corpus cache), so that the expression is parsed once per run.

    Raises:
        UsageError: the config file is unreadable, a key has the wrong type (located at the
            key), or ``error`` does not parse (located in the config file).
    """
    config = find_config(start)
    if config is None:
        return default_settings(Path(start if start is not None else Path.cwd()))
    warnings = []
    for key in sorted(config.values):
        if key not in _BY_KEY:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"{config.path}: unknown [tool.nectar] key {key!r}{hint}")
    values = _defaults()
    for spec in SETTINGS:
        if spec.key not in config.values:
            continue
        raw = config.values[spec.key]
        try:
            value = spec.convert(raw)
        except _Invalid as err:
            raise UsageError(
                f"[tool.nectar] {spec.key} has the wrong type",
                position=config.position(spec.key, value=True),
                got=raw,
                hint=str(err),
            ) from None
        values[spec.key] = Resolved(value, Origin(Source.CONFIG, config.position(spec.key)))
    error_expr = None
    if expressions and values["error"].value is not None:
        error_expr = _parse_config_error(config, values["error"].value)
    return ProjectSettings(config.path, config.root, values, tuple(warnings), error_expr)


def _parse_config_error(config: ConfigFile, text: str) -> Expr:
    """``error`` at its place in the config file (the string's first character)."""
    where = config.position("error", value=True)
    line = config.source_line(where.line) if where.line else None
    columns = None
    if line is not None and where.column and line[where.column - 1 :].startswith(("'", '"')):
        quote = line[where.column - 1]
        body = line[where.column :]
        # A literal string, or a basic one without escapes: one file column per character.
        if quote == "'" or "\\" not in body.split('"')[0]:
            columns = [where.column + 1 + i for i in range(len(text))]
    start = Position(where.path, where.line, where.column + 1 if where.column else 0)
    return parse_error_expression(text, start, columns=columns, source_line=line)


def parse_cli_error(text: str, option: str = "--error") -> Expr:
    """An ``--error`` option's expression, located at the option."""
    return parse_error_expression(text, Position(option, 1, 1))


def parse_error_expression(
    text: str,
    where: Position,
    *,
    columns: list[int] | None = None,
    source_line: str | None = None,
) -> Expr:
    """The one place an error expression given outside a policy is parsed; the caller names
    where it was written (a config key, a command-line option)."""
    from pytest_nectar.policy.match_parser import parse_match

    return parse_match(text, position=where, columns=columns, source_line=source_line)


def resolve_error(settings: ProjectSettings | None, policy: Policy | None) -> tuple[Expr, Origin]:
    """The error expression in force for ``policy`` (None: a rules file), and its origin.

    Command line > the policy's own ``error`` > ``[tool.nectar] error`` > the default error
    criteria (``default_errors``, :mod:`pytest_nectar.policy.error_criteria`).
    """
    from pytest_nectar.policy.error_criteria import default_error_match

    origin = settings.origin("error") if settings is not None else DEFAULT_ORIGIN
    expr = settings.error_expr if settings is not None else None
    if expr is not None and origin.source is Source.COMMAND_LINE:
        return expr, origin
    if policy is not None and policy.error is not None:
        return policy.error, Origin(Source.POLICY, policy.position_of("error"))
    if expr is not None:
        return expr, origin
    return default_error_match(), DEFAULT_ORIGIN


def option_dest(option: str) -> str:
    """The argparse destination of an option (``--nectar-window`` -> ``nectar_window``)."""
    return option.lstrip("-").replace("-", "_")


def plugin_options() -> Iterator[tuple[str, Setting]]:
    """(pytest option, setting) for every setting with a ``--nectar-*`` form."""
    for spec in SETTINGS:
        if spec.plugin_option is not None:
            yield spec.plugin_option, spec
