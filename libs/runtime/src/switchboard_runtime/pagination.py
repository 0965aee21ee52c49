"""Paging for every admin route that lists or searches: a bounded `limit` and a cursor.

A route takes `page: Annotated[PageRequest, Depends(pagination())]`; a `limit` over the
maximum is a 422 naming the bound, so no single request reads a table out. The cursor is
opaque to clients: the keyset position after the last item of the previous page (a list
of JSON values the route chose; a datetime travels as ISO 8601 text with its offset),
base64url-encoded; a malformed one is a 400. A cursor grants nothing: it only says where
to start reading what the caller may read anyway. The answer carries `next_cursor`, null
on the last page.
"""

# No `from __future__ import annotations`: FastAPI evaluates the dependency's
# annotations, which name the `maximum` of the enclosing call.
import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Query

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_CURSOR_CHARS = 512

T = TypeVar("T")
K = TypeVar("K", int, str)
Page = tuple[list[T], str | None]
"""One page of items and the cursor of the next page (None after the last)."""


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: list[Any] | None
    """The decoded cursor: where the previous page ended; None for the first page."""

    def key(self, kind: type[K]) -> K | None:
        """The cursor's one value, which must be a `kind`; None for the first page."""
        if self.after is None:
            return None
        if len(self.after) != 1 or type(self.after[0]) is not kind:
            raise _not_ours()
        value: K = self.after[0]
        return value

    def keys(self, *kinds: type[Any]) -> tuple[Any, ...] | None:
        """The cursor's values, one of each of `kinds` in order (int, str or an aware
        datetime); None for the first page."""
        if self.after is None:
            return None
        if len(self.after) != len(kinds):
            raise _not_ours()
        return tuple(_value(v, kind) for v, kind in zip(self.after, kinds, strict=True))


def pagination(
    default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> Callable[..., PageRequest]:
    """The dependency that reads `limit` (1..maximum) and `cursor` from the query."""

    def page(
        limit: Annotated[
            int, Query(ge=1, le=maximum, description=f"Items per page, at most {maximum}.")
        ] = default,
        cursor: Annotated[
            str | None,
            Query(max_length=MAX_CURSOR_CHARS, description="`next_cursor` of the previous page."),
        ] = None,
    ) -> PageRequest:
        return PageRequest(limit, None if cursor is None else decode_cursor(cursor))

    return page


def encode_cursor(position: list[Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), default=_iso).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        position = None
    if not isinstance(position, list) or not position:
        raise _not_ours()
    return position


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"a cursor holds JSON values and datetimes, not {type(value).__name__}")


def _value(value: object, kind: type[Any]) -> Any:
    if kind is datetime and isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise _not_ours() from None
        if at.tzinfo is not None:
            return at
    elif type(value) is kind:
        return value
    raise _not_ours()


def _not_ours() -> HTTPException:
    return HTTPException(400, "cursor: not a next_cursor of this route; start without one")


def page_of(rows: Sequence[T], limit: int, position: Callable[[T], list[Any]]) -> Page[T]:
    """The page in `rows`, fetched with `limit + 1` (the extra row only says that another
    page follows), and the cursor after it; None when it is the last."""
    if len(rows) <= limit:
        return list(rows), None
    return list(rows[:limit]), encode_cursor(position(rows[limit - 1]))
