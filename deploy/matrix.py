"""Read and check a scale-experiment matrix: configurations, the load, the SLO.

A matrix is a TOML file (read with :mod:`tomllib`)::

    [load]                      # the same load for every configuration
    users = 50                  # concurrent Locust users
    spawn_rate = 10             # users started per second
    duration_s = 60             # length of each run, seconds
    shape = "constant"          # the locustfile's --shape: none, constant, step, spike; a spike
                                # (spike-at-s + spike-duration-s of locust.conf) must end by duration_s

    [slo]                       # what a configuration must hold to pass
    max_failure_ratio = 0.01
    p95_ms = 300
    p99_ms = 1000
    min_rps = 100

    [search]                    # optional, for `deploy capacity`; these are the defaults
    start_rps = 25              # first offered rate, requests/s
    ramp_s = 5                  # each probe: users started within this many seconds,
    window_s = 15               # then this many seconds measured,
    drain_s = 5                 # then this long for queues to drain before the next
    max_probes = 8              # probes per configuration at most
    bracket = 0.1               # stop once (lowest fail - highest pass) <= bracket x highest pass
    pace_s = 2.5                # seconds between one user's requests: at least 1.5 x the SLO's p99 (default:
                                # 2.5 or that, whichever is longer); open model while answers take less
    max_users = 900             # Locust users at most: the highest rate offered is max_users / pace_s

    [goal]                      # optional: what the recommendation sizes for
    rps = 400                   # requests/s to hold (default: none)
    headroom = 0.2              # capacity needed above rps, share (default 0.2)

    [[configuration]]           # one table per configuration
    replicas = 3                # API containers behind Nginx
    cpus = 0.5                  # CPU limit per replica (docker --cpus)
    memory = "250M"             # memory limit per replica, Docker units
    workers = 2                 # optional: WEB_CONCURRENCY; default: the service's own choice
    name = "3x0.5"              # optional: defaults to "3x0.5cpu-250M"

Every mistake raises :class:`MatrixError` naming the file, the table (or the
configuration's number and name) and the key.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.options import SHAPE_NAMES, SPIKE_AT_S, SPIKE_DURATION_S, setting
from loadtest.shape_rules import check_spike_fits
from loadtest.slo import Slo

# Docker's own grammar for memory sizes (docker/go-units RAMInBytes): binary
# multiples, case-insensitive, optional "i"/"b". Unlike Docker we insist on the
# unit: a bare "128" means 128 bytes to Docker, which is never what was meant.
# Not docker-py's docker.utils.parse_bytes: it knows only b, k, m and g (no "t",
# no "GiB"), takes a bare number for bytes, and so refuses or misreads sizes
# that Compose, which reads API_MEMORY, accepts.
MEMORY_PATTERN = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp]?)i?b$|^(\d+(?:\.\d+)?) ?([kmgtp])i?$", re.IGNORECASE)
MEMORY_MULTIPLIERS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
# Docker refuses memory limits under 6 MiB ("Minimum memory limit allowed is 6MB").
MIN_MEMORY_BYTES = 6 * 1024**2
# Upper bounds that no single host reaches: a value beyond them is a typo, which Docker would
# only refuse once the run has started (memory past int64 bytes, CPUs past the engine's count).
MAX_MEMORY_BYTES = 1024**4
SHOWN_MEMORY_LENGTH = 24  # characters of a bad memory value an error message repeats
# Docker's --cpus granularity: "from 0.01 to the number of CPUs" (docker run reference).
MIN_CPUS = 0.01
MAX_CPUS = 1024
MAX_REPLICAS = 100
MAX_WORKERS = 256
# Configuration names become directory names (NN-name) and table cells.
MAX_NAME_LENGTH = 64
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

CONFIGURATION_KEYS = {"name", "replicas", "cpus", "memory", "workers"}
LOAD_KEYS = {"users", "spawn_rate", "duration_s", "shape"}
SLO_KEYS = {"max_failure_ratio", "p95_ms", "p99_ms", "min_rps"}
SEARCH_KEYS = {"start_rps", "ramp_s", "window_s", "drain_s", "max_probes", "bracket", "pace_s", "max_users"}
GOAL_KEYS = {"rps", "headroom"}
TOP_LEVEL_KEYS = {"load", "slo", "search", "goal", "configuration"}
# The pace must leave a user time for an answer at the SLO's p99 and then some,
# or a slow answer would delay the user's next request (coordinated omission).
MIN_PACE_OVER_P99 = 1.5


class MatrixError(ValueError):
    """A matrix file that cannot be run; the message names where and why."""


@dataclass(frozen=True)
class Load:
    """The Locust load every configuration gets: users, spawn rate (users/s), run length (s), shape."""

    users: int
    spawn_rate: float
    duration_s: int
    shape: str


@dataclass(frozen=True)
class Search:
    """How ``deploy capacity`` looks for each configuration's capacity (see the module docstring)."""

    start_rps: float = 25.0
    ramp_s: float = 5.0
    window_s: float = 15.0
    drain_s: float = 5.0
    max_probes: int = 8
    bracket: float = 0.1
    pace_s: float = 2.5
    max_users: int = 900

    @property
    def max_rps(self) -> float:
        """The highest rate the bench offers: max_users users, one request per pace_s each."""
        return self.max_users / self.pace_s

    @property
    def probe_s(self) -> float:
        """Seconds one probe takes: ramp, window and drain."""
        return self.ramp_s + self.window_s + self.drain_s


@dataclass(frozen=True)
class Goal:
    """The load to size for: ``rps`` requests/s (None: no goal) held with ``headroom`` (a share) to spare."""

    rps: float | None = None
    headroom: float = 0.2

    @property
    def required_rps(self) -> float | None:
        """The capacity a configuration needs: rps x (1 + headroom)."""
        return None if self.rps is None else self.rps * (1 + self.headroom)


@dataclass(frozen=True)
class Configuration:
    """One row of the matrix: replicas x (cpus, memory) each, optionally a worker count."""

    index: int  # 1-based position in the matrix file
    name: str
    replicas: int
    cpus: float  # CPU limit per replica, in CPUs (docker --cpus)
    memory: str  # memory limit per replica as written, Docker units ("250M")
    memory_limit_bytes: int
    workers: int | None  # WEB_CONCURRENCY, None lets the service size itself

    @property
    def total_cpus(self) -> float:
        """CPUs the whole configuration may use: replicas x cpus."""
        return round(self.replicas * self.cpus, 6)

    @property
    def total_memory_bytes(self) -> int:
        """Memory the whole configuration may use: replicas x memory limit, bytes."""
        return self.replicas * self.memory_limit_bytes

    @property
    def label(self) -> str:
        """Short human form, e.g. "3 × 0.5 CPU / 250M"."""
        return configuration_label(self.replicas, self.cpus, self.memory, self.workers)


@dataclass(frozen=True)
class Matrix:
    """A whole matrix file: where it came from, the load, the SLO and the configurations in file order."""

    path: Path
    load: Load
    slo: Slo
    configurations: tuple[Configuration, ...]
    search: Search = Search()
    goal: Goal = Goal()

    def select(self, selectors: list[str], option: str = "--only") -> tuple[Configuration, ...]:
        """Configurations picked by 1-based index or name, in matrix order; all when ``selectors`` is empty.

        Raises MatrixError, naming ``option``, for a selector that matches no configuration.
        """
        if not selectors:
            return self.configurations
        by_name = {c.name: c for c in self.configurations}
        chosen: set[int] = set()
        for selector in selectors:
            if selector in by_name:
                chosen.add(by_name[selector].index)
            elif selector.isdigit() and 1 <= int(selector) <= len(self.configurations):
                chosen.add(int(selector))
            else:
                known = ", ".join(f"{c.index} ({c.name})" for c in self.configurations)
                raise MatrixError(f"{option} {selector!r} matches no configuration; known: {known}")
        return tuple(c for c in self.configurations if c.index in chosen)


def configuration_label(replicas: int, cpus: float, memory: str, workers: int | None) -> str:
    """How tables name a configuration: "3 × 0.5 CPU / 250M", plus " / 2 workers" when set."""
    suffix = f" / {workers} worker{'s' if workers != 1 else ''}" if workers else ""
    return f"{replicas} × {cpus:g} CPU / {memory}{suffix}"


def parse_memory(text: object) -> int:
    """Bytes in a Docker memory size such as "250M", "1G", "512m", "1.5GiB" (binary multiples).

    Raises ValueError when ``text`` is not a string with a unit, is under Docker's 6 MiB minimum
    or over MAX_MEMORY_BYTES (1 TiB).
    """
    if not isinstance(text, str):
        raise ValueError(f"must be a string with a unit such as \"250M\" or \"1G\", got {text!r}")
    shown = repr(text) if len(text) <= SHOWN_MEMORY_LENGTH else repr(f"{text[:SHOWN_MEMORY_LENGTH]}...")
    match = MEMORY_PATTERN.match(text.strip())
    if match is None:
        raise ValueError(f"{shown} is not a memory size with a unit (b, k, m, g; e.g. \"250M\", \"1G\")")
    number, unit = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    size = float(number) * MEMORY_MULTIPLIERS[unit.lower()]  # inf for hundreds of digits, never an error
    if size < MIN_MEMORY_BYTES:
        raise ValueError(f"{shown} is under Docker's minimum memory limit of 6M")
    if size > MAX_MEMORY_BYTES:
        raise ValueError(f"{shown} is over {MAX_MEMORY_BYTES // 1024**4}T, more than any host offers")
    return int(size)


def load_matrix(path: str | Path) -> Matrix:
    """Read and check the matrix file at ``path``.

    Raises MatrixError (unreadable file, not UTF-8, bad TOML, unknown or missing keys, bad values, duplicate names).
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MatrixError(f"{path}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise MatrixError(f"{path}: not UTF-8 text (byte {error.start})") from error
    except tomllib.TOMLDecodeError as error:
        raise MatrixError(f"{path}: not valid TOML: {error}") from error
    _reject_unknown(path, "the top level", document, TOP_LEVEL_KEYS)
    load = _parse_load(path, _table(path, document, "load"))
    slo = _parse_slo(path, _table(path, document, "slo"))
    search = _parse_search(path, _optional_table(path, document, "search"), slo)
    goal = _parse_goal(path, _optional_table(path, document, "goal"))
    rows = document.get("configuration")
    if not isinstance(rows, list) or not rows:
        raise MatrixError(f"{path}: needs at least one [[configuration]] table")
    configurations = tuple(_parse_configuration(path, index, row) for index, row in enumerate(rows, start=1))
    seen: dict[str, int] = {}
    for configuration in configurations:
        if configuration.name in seen:
            raise MatrixError(
                f"{path}: configuration {configuration.index}: name {configuration.name!r} "
                f"is already used by configuration {seen[configuration.name]}"
            )
        seen[configuration.name] = configuration.index
    return Matrix(path=path, load=load, slo=slo, configurations=configurations, search=search, goal=goal)


def _table(path: Path, document: dict[str, Any], key: str) -> dict[str, Any]:
    table = document.get(key)
    if not isinstance(table, dict):
        raise MatrixError(f"{path}: needs a [{key}] table")
    return table


def _optional_table(path: Path, document: dict[str, Any], key: str) -> dict[str, Any]:
    table = document.get(key, {})
    if not isinstance(table, dict):
        raise MatrixError(f"{path}: [{key}] must be a table")
    return table


def _reject_unknown(path: Path, where: str, table: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise MatrixError(f"{path}: {where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def _require(path: Path, where: str, table: dict[str, Any], key: str) -> Any:
    if key not in table:
        raise MatrixError(f"{path}: {where}: missing key {key!r}")
    return table[key]


def _number(path: Path, where: str, table: dict[str, Any], key: str, *, integer: bool = False, minimum: float = 0.0,
            inclusive: bool = False, maximum: float = math.inf) -> float:
    value = _require(path, where, table, key)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        kind = "an integer" if integer else "a number"
        raise MatrixError(f"{path}: {where}: {key} must be {kind}, got {value!r}")
    if value < minimum or (value == minimum and not inclusive):
        bound = f"at least {minimum:g}" if inclusive else f"greater than {minimum:g}"
        raise MatrixError(f"{path}: {where}: {key} must be {bound}, got {value!r}")
    if value > maximum:
        raise MatrixError(f"{path}: {where}: {key} must be at most {maximum:g}, got {value!r}")
    return value


def _parse_load(path: Path, table: dict[str, Any]) -> Load:
    where = "[load]"
    _reject_unknown(path, where, table, LOAD_KEYS)
    shape = _require(path, where, table, "shape")
    if shape not in SHAPE_NAMES:
        raise MatrixError(f"{path}: {where}: shape must be one of {', '.join(SHAPE_NAMES)}, got {shape!r}")
    load = Load(
        users=int(_number(path, where, table, "users", integer=True)),
        spawn_rate=float(_number(path, where, table, "spawn_rate")),
        duration_s=int(_number(path, where, table, "duration_s", integer=True)),
        shape=shape,
    )
    if shape == "spike":
        _check_spike_fits(path, where, load)
    return load


def _check_spike_fits(path: Path, where: str, load: Load) -> None:
    """Refuse a spike that ends after duration_s, timed as the locustfile will time it (the environment,
    then locust.conf, then the option's default): at run time Locust would refuse it as a tooling error."""
    try:
        spike_at_s = float(setting("spike-at-s", str(SPIKE_AT_S)))
        spike_duration_s = float(setting("spike-duration-s", str(SPIKE_DURATION_S)))
        check_spike_fits(spike_at_s, spike_duration_s, load.duration_s)
    except ValueError as error:
        raise MatrixError(f"{path}: {where}: duration_s {load.duration_s} is too short for the shape: {error} "
                          "(spike-at-s + spike-duration-s, from the environment or locust.conf)") from error


def _parse_slo(path: Path, table: dict[str, Any]) -> Slo:
    where = "[slo]"
    _reject_unknown(path, where, table, SLO_KEYS)
    max_failure_ratio = float(_number(path, where, table, "max_failure_ratio", inclusive=True))
    if max_failure_ratio > 1:
        raise MatrixError(f"{path}: {where}: max_failure_ratio is a ratio between 0 and 1, got {max_failure_ratio!r}")
    return Slo(
        max_failure_ratio=max_failure_ratio,
        p95_ms=float(_number(path, where, table, "p95_ms")),
        p99_ms=float(_number(path, where, table, "p99_ms")),
        min_rps=float(_number(path, where, table, "min_rps", inclusive=True)),
    )


def _parse_search(path: Path, table: dict[str, Any], slo: Slo) -> Search:
    where = "[search]"
    _reject_unknown(path, where, table, SEARCH_KEYS)
    defaults = Search()
    values: dict[str, Any] = {}
    for key in ("start_rps", "ramp_s", "window_s", "pace_s"):
        if key in table:
            values[key] = float(_number(path, where, table, key))
    if "drain_s" in table:
        values["drain_s"] = float(_number(path, where, table, "drain_s", inclusive=True))
    for key in ("max_probes", "max_users"):
        if key in table:
            values[key] = int(_number(path, where, table, key, integer=True, minimum=1, inclusive=True))
    if "bracket" in table:
        values["bracket"] = float(_number(path, where, table, "bracket", maximum=1))
    if "pace_s" not in table:  # the default, stretched for an SLO with a long p99
        values["pace_s"] = max(defaults.pace_s, MIN_PACE_OVER_P99 * slo.p99_ms / 1000)
    search = Search(**{**defaults.__dict__, **values})
    if search.pace_s * 1000 < MIN_PACE_OVER_P99 * slo.p99_ms:
        raise MatrixError(f"{path}: {where}: pace_s {search.pace_s:g} must be at least {MIN_PACE_OVER_P99:g} x the "
                          f"SLO's p99 ({MIN_PACE_OVER_P99 * slo.p99_ms / 1000:g} s), or a user waiting for a slow "
                          "answer would hold back its next request")
    if search.start_rps > search.max_rps:
        raise MatrixError(f"{path}: {where}: start_rps {search.start_rps:g} is over what max_users {search.max_users} "
                          f"at pace_s {search.pace_s:g} offer ({search.max_rps:g} req/s)")
    return search


def _parse_goal(path: Path, table: dict[str, Any]) -> Goal:
    where = "[goal]"
    _reject_unknown(path, where, table, GOAL_KEYS)
    rps = float(_number(path, where, table, "rps")) if "rps" in table else None
    headroom = float(_number(path, where, table, "headroom", inclusive=True, maximum=10)) if "headroom" in table else 0.2
    return Goal(rps=rps, headroom=headroom)


def _parse_configuration(path: Path, index: int, row: Any) -> Configuration:
    where = f"configuration {index}"
    if not isinstance(row, dict):
        raise MatrixError(f"{path}: {where}: must be a table, got {row!r}")
    if isinstance(row.get("name"), str) and len(row["name"]) <= MAX_NAME_LENGTH:
        where = f"configuration {index} ({row['name']})"
    _reject_unknown(path, where, row, CONFIGURATION_KEYS)
    replicas = int(_number(path, where, row, "replicas", integer=True, maximum=MAX_REPLICAS))
    cpus = float(_number(path, where, row, "cpus", minimum=MIN_CPUS, inclusive=True, maximum=MAX_CPUS))
    memory = _require(path, where, row, "memory")
    try:
        memory_limit_bytes = parse_memory(memory)
    except ValueError as error:
        raise MatrixError(f"{path}: {where}: memory {error}") from error
    memory = memory.strip()  # as Docker reads it: no space around, one allowed before the unit
    workers = int(_number(path, where, row, "workers", integer=True, maximum=MAX_WORKERS)) if "workers" in row else None
    if "name" in row:
        name = row["name"]
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise MatrixError(f"{path}: {where}: name must be letters, digits, '.', '_' or '-', got {name!r}")
        if len(name) > MAX_NAME_LENGTH:
            raise MatrixError(f"{path}: {where}: name must be at most {MAX_NAME_LENGTH} characters, got {len(name)}")
    else:
        # Docker allows a space before the unit ("256 M"); a directory name had better not have one.
        name = f"{replicas}x{cpus:g}cpu-{memory.replace(' ', '')}" + (f"-{workers}w" if workers else "")
        if len(name) > MAX_NAME_LENGTH:
            raise MatrixError(f"{path}: {where}: the name made from replicas, cpus and memory, {name[:20]}..., is "
                              f"over {MAX_NAME_LENGTH} characters; write memory shorter or give the row a name")
    return Configuration(index=index, name=name, replicas=replicas, cpus=cpus, memory=memory,
                         memory_limit_bytes=memory_limit_bytes, workers=workers)
