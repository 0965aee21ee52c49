"""Loading a YAML policy file into a pydantic model, with errors that name the path and line.

`load_yaml_model(content, Model, cross_checks, invalid=PolicyInvalid)` parses YAML
(safe_load), validates the structure with pydantic and then the cross-field checks,
collecting every problem before it raises one `invalid` whose lines read
``rules[3].action.queue (line 31): unknown queue 'billing-x'; expected one of: ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from switchboard_calendars.errors import PolicyInvalid
from switchboard_calendars.spec import CalendarSpec

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(
    content: bytes | str,
    model: type[M],
    cross_checks: Callable[[M], Iterable[str]],
    invalid: type[PolicyInvalid] = PolicyInvalid,
) -> M:
    """Parse and validate; raise `invalid` listing every problem with its path and line.

    `cross_checks` yields 'path: what is wrong' lines for problems that need more than
    one field to see; the line of the path is added here.
    """
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise invalid([f"{where}: not valid YAML: {problem}"]) from None
    if not isinstance(raw, dict):
        kind = "nothing" if raw is None else type(raw).__name__
        raise invalid([f"(document): expected a mapping at the top, got {kind}"])
    lines = _LineFinder(text)
    try:
        spec = model.model_validate(raw)
    except ValidationError as exc:
        raise invalid([_describe(err, lines) for err in exc.errors(include_url=False)]) from None
    problems = [lines.annotate(p) for p in cross_checks(spec)]
    if problems:
        raise invalid(problems)
    return spec


def unknown(path: str, kind: str, name: str, known: Collection[str]) -> Iterator[str]:
    """A problem when `name` (at `path`) is not one of the `known` names of its `kind`."""
    if name not in known:
        choices = ", ".join(sorted(known)) or "(none defined)"
        yield f"{path}: unknown {kind} {name!r}; expected one of: {choices}"


def calendar_problems(calendars: Sequence[CalendarSpec], path: str = "calendars") -> Iterator[str]:
    """Duplicate ids and each calendar's own problems, for the calendar list at `path`."""
    yield from duplicate_ids(path, [c.id for c in calendars])
    for i, calendar in enumerate(calendars):
        yield from calendar.problems(f"{path}[{i}]")


class QueueFields(Protocol):
    """The fields of a policy's queue that every policy shape shares."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def vendor(self) -> str | None: ...
    @property
    def calendar(self) -> str: ...


def queue_problems(
    queues: Sequence[QueueFields], calendars: Collection[str], path: str = "queues"
) -> Iterator[str]:
    """Duplicate ids, unknown calendars, and a vendor named exactly when `kind: outsourced`."""
    yield from duplicate_ids(path, [q.id for q in queues])
    for i, queue in enumerate(queues):
        where = f"{path}[{i}]"
        yield from unknown(f"{where}.calendar", "calendar", queue.calendar, calendars)
        if queue.kind == "outsourced" and not queue.vendor:
            yield f"{where}.vendor: an outsourced queue must name its vendor"
        if queue.kind != "outsourced" and queue.vendor:
            yield f"{where}.vendor: an in-house queue has no vendor (or set kind: outsourced)"


def duplicate_ids(kind: str, ids: Sequence[str]) -> Iterator[str]:
    """A problem for each id of the list `kind` that an earlier item already has."""
    seen: dict[str, int] = {}
    for i, ident in enumerate(ids):
        if ident in seen:
            yield f"{kind}[{i}].id: duplicate id {ident!r} (also {kind}[{seen[ident]}])"
        seen.setdefault(ident, i)


class _LineFinder:
    """Maps a pydantic error location to the line of the YAML node it names."""

    def __init__(self, text: str) -> None:
        try:
            self._root: yaml.Node | None = yaml.compose(text)
        except yaml.YAMLError:
            self._root = None

    def line(self, loc: Sequence[int | str]) -> int | None:
        """The line of the node at `loc`, or of its closest parent present in the file."""
        node = self._root
        for part in loc:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value if k.value == str(part)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                child = node.value[part] if part < len(node.value) else None
            if child is None:
                break
            node = child
        return None if node is None or node is self._root else node.start_mark.line + 1

    def annotate(self, problem: str) -> str:
        """'rules[1].match: ...' -> 'rules[1].match (line 12): ...'."""
        path, sep, rest = problem.partition(": ")
        loc: list[int | str] = []
        for part in path.replace("[", ".[").split("."):
            if part.startswith("[") and part.endswith("]") and part[1:-1].isdigit():
                loc.append(int(part[1:-1]))
            elif part:
                loc.append(part)
        line = self.line(loc)
        return f"{path} (line {line}){sep}{rest}" if line is not None and sep else problem


def _path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".") or "(document)"


def _describe(err: Any, lines: _LineFinder) -> str:
    # pydantic adds validator and union-member tags to the location; they are not YAML keys.
    loc = [
        p
        for p in err["loc"]
        if not (
            isinstance(p, str) and (p.startswith("function-") or p in ("list[...]", "float", "int"))
        )
    ]
    kind = err["type"]
    if kind == "extra_forbidden":
        message = "unknown field (check the spelling; see the policy reference in the README)"
    elif kind == "missing":
        message = "required field is missing"
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if kind != "value_error" and isinstance(value, str | int | float) and len(str(value)) <= 60:
            message += f" (got {value!r})"
    path = _path(loc)
    line = lines.line(loc)
    return f"{path}{f' (line {line})' if line is not None else ''}: {message}"
