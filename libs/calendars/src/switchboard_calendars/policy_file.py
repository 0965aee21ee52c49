"""Loading a YAML policy file into a pydantic model, with errors that name the path and line.

`load_yaml_model(content, Model, cross_checks, invalid=PolicyInvalid)` parses YAML
(safe_load), validates the structure with pydantic and then the cross-field checks,
collecting every problem before it raises one `invalid` whose lines read
``rules[3].action.queue (line 31): unknown queue 'billing-x'; expected one of: ...``.

Structural errors do not hide the cross-field ones: the checks then run on what is left
after setting the invalid parts aside (an invalid field is dropped, so an optional one
takes its default; an item missing a required field is dropped from its list). Their
problems keep the paths of the file. What only follows from a part set aside is left
out, as the part itself is reported: a problem of a path above or inside it, and a
reference to a dropped item's id. Only when a required field outside any list is wrong
do the cross-field checks wait for the structure to be fixed.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
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
        structural = [_describe(err, lines) for err in exc.errors(include_url=False)]
        salvage = _Salvage(raw, exc)
        rest = salvage.cross_problems(model, cross_checks)
        raise invalid(structural + [lines.annotate(p) for p in rest]) from None
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


Loc = tuple[int | str, ...]
_MAX_SALVAGE_ROUNDS = 20
# A YAML path with an index in a problem's text, e.g. "rules[2].action" or "also queues[0]".
_PATH_TOKEN = re.compile(r"(?<![\w.\]])[A-Za-z_]\w*(?:\.\w+|\[\d+\])*\[\d+\](?:\.\w+|\[\d+\])*")
# The name in a problem worded by `unknown` above.
_UNKNOWN_NAME = re.compile(r": unknown \w+ '([^']*)'")


class _Salvage:
    """What of an invalid document still validates, for the cross-field checks.

    Each round sets aside the parts that pydantic refused: the field itself, or the
    list item around a missing required field. `removed` keeps, per list (by its path
    in the file), the file indices of the items dropped from it, so that paths of the
    salvaged document can be mapped back to the file.
    """

    def __init__(self, raw: dict[str, Any], first: ValidationError) -> None:
        self.data = copy.deepcopy(raw)
        self.removed: dict[Loc, list[int]] = defaultdict(list)
        self.dropped_ids: set[str] = set()
        self.set_aside: list[Loc] = []
        self._first: ValidationError | None = first

    def cross_problems(
        self, model: type[M], cross_checks: Callable[[M], Iterable[str]]
    ) -> list[str]:
        """The cross-field problems of the salvaged document, in the file's paths."""
        for _ in range(_MAX_SALVAGE_ROUNDS):
            if self._first is not None:
                errors, self._first = self._first, None
            else:
                try:
                    spec = model.model_validate(self.data)
                except ValidationError as exc:
                    errors = exc
                else:
                    found = (self._to_file(p) for p in cross_checks(spec))
                    return [p for p in found if not self._follows(p)]
            targets = [self._target(err["loc"], err["type"]) for err in errors.errors()]
            if any(t is None for t in targets) or not self._set_aside(
                [t for t in targets if t is not None]
            ):
                return []
        return []

    def _target(self, loc: Sequence[int | str], kind: str) -> Loc | None:
        """What to set aside for an error at `loc`: the field, or its list item; None: nothing."""
        path = self._real(loc)
        if kind == "missing":
            items = [i for i, part in enumerate(path) if isinstance(part, int)]
            return path[: items[-1] + 1] if items else None
        return path or None

    def _real(self, loc: Sequence[int | str]) -> Loc:
        """`loc` without pydantic's tags: only the keys and indices present in the data."""
        node: Any = self.data
        path: list[int | str] = []
        for i, part in enumerate(loc):
            if part == "[key]":
                break
            present = (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and part < len(node)
            )
            if present:
                node = node[part]
            elif i == len(loc) - 1 and isinstance(node, dict):
                path.append(part)  # a missing field: the path of its place
                break
            else:
                continue
            path.append(part)
        return tuple(path)

    def _set_aside(self, targets: list[Loc]) -> bool:
        """Remove each target (deepest and last first, so indices stay right); False: none."""
        removed = False
        for target in sorted(set(targets), key=_descending, reverse=True):
            if any(other != target and target[: len(other)] == other for other in targets):
                continue  # inside another target that goes anyway
            parent: Any = self.data
            for part in target[:-1]:
                parent = parent[part]
            last = target[-1]
            self.set_aside.append(self._file_loc(target))
            if isinstance(parent, list) and isinstance(last, int):
                item = parent.pop(last)
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    self.dropped_ids.add(item["id"])
                file_list = self._file_loc(target[:-1])
                self.removed[file_list].append(self._file_index(file_list, last))
                self.removed[file_list].sort()
                removed = True
            elif isinstance(parent, dict) and last in parent:
                del parent[last]
                removed = True
        return removed

    def _file_index(self, file_list: Loc, index: int) -> int:
        for gone in self.removed.get(file_list, []):
            if gone <= index:
                index += 1
        return index

    def _file_loc(self, loc: Sequence[int | str]) -> Loc:
        """A path of the salvaged document as the path of the same node in the file."""
        out: list[int | str] = []
        for part in loc:
            out.append(self._file_index(tuple(out), part) if isinstance(part, int) else part)
        return tuple(out)

    def _to_file(self, problem: str) -> str:
        return _PATH_TOKEN.sub(lambda m: _path(self._file_loc(_loc(m.group(0)))), problem)

    def _follows(self, problem: str) -> bool:
        """Whether a problem (in file paths) only follows from a part set aside."""
        path = tuple(_loc(problem.partition(": ")[0]))
        if any(path[: len(gone)] == gone or gone[: len(path)] == path for gone in self.set_aside):
            return True
        found = _UNKNOWN_NAME.search(problem)
        return found is not None and found.group(1) in self.dropped_ids


def _descending(loc: Loc) -> tuple[tuple[int, int | str], ...]:
    # Sort ints and strings apart so that mixed paths compare.
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in loc)


def _loc(path: str) -> list[int | str]:
    """'rules[1].match' -> ['rules', 1, 'match']."""
    loc: list[int | str] = []
    for part in path.replace("[", ".[").split("."):
        if part.startswith("[") and part.endswith("]") and part[1:-1].isdigit():
            loc.append(int(part[1:-1]))
        elif part:
            loc.append(part)
    return loc


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
        line = self.line(_loc(path))
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
