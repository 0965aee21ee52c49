"""A token bucket per principal: how many requests of one kind a caller may make per minute.

Each key (a token's name, a JWT's subject) has a bucket of `burst` requests that refills at
`per_minute`; a request when the bucket is empty is refused with the seconds until the
next one is allowed (`Retry-After`). The buckets live in the process, so N instances
allow N times the rate in total: set `per_minute` for one instance's share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from switchboard_runtime.clock import Clock

MAX_KEYS = 10_000
"""Buckets kept; past it the full ones (callers idle long enough) are forgotten."""


class RateLimitSettings(BaseModel):
    """`<PREFIX><NAME>__PER_MINUTE` and `<PREFIX><NAME>__BURST`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_minute: float = Field(gt=0, le=1_000_000, description="Sustained requests per minute.")
    burst: int = Field(ge=1, le=100_000, description="Requests allowed at once after idling.")


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets by key, on `clock.monotonic()`."""

    def __init__(self, settings: RateLimitSettings, clock: Clock) -> None:
        self._rate_s = settings.per_minute / 60.0
        self._burst = float(settings.burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Spend one request of `key`: 0.0 if allowed, else the seconds until one is."""
        now = self._clock.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate_s)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate_s

    def _forget_full(self, now: float) -> None:
        full_after = self._burst / self._rate_s
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < full_after}


def too_many_requests(retry_after_s: float, what: str) -> HTTPException:
    """The 429 for a refused request: `{"detail": ...}` and `Retry-After` in whole seconds."""
    seconds = max(1, math.ceil(retry_after_s))
    return HTTPException(
        429,
        f"too many {what}: retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
