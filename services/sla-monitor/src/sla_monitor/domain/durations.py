"""Durations as people write them in policy files: 20s, 15m, 4h, 1h30m, 2d (or plain seconds)."""

from __future__ import annotations

import re

_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: object) -> int:
    """Seconds of a duration; ValueError naming the value and the expected shape."""
    if isinstance(value, bool):
        raise ValueError(
            f"expected a duration like '20s', '15m', '4h', '1h30m' or '2d', got {value!r}"
        )
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            return int(text)
        found = _DURATION.match(text)
        if found and text:
            return sum(
                int(n or 0) * unit for n, unit in zip(found.groups(), _UNITS.values(), strict=True)
            )
    raise ValueError(f"expected a duration like '20s', '15m', '4h', '1h30m' or '2d', got {value!r}")


def format_duration(seconds: float) -> str:
    """4h30m, 20s, 1d2h: the inverse of `parse_duration` for whole seconds."""
    left = round(seconds)
    if left == 0:
        return "0s"
    sign = "-" if left < 0 else ""
    left = abs(left)
    parts = []
    for unit, size in _UNITS.items():
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return sign + "".join(parts)
