"""Fixed-window rate limits per client (IP or API key). In memory for one process; on Redis when the
service runs with a Redis broker, so that every API process shares the same counts."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class RateLimiter(Protocol):
    def hit(self, client: str, limit: int, window: int = 60) -> tuple[bool, int]:
        """(allowed, seconds until the window resets)."""
        ...


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, client: str, limit: int, window: int = 60) -> tuple[bool, int]:
        now = time.time()
        slot = int(now // window)
        with self._lock:
            if len(self._counts) > 100_000:  # old windows: forget them
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= slot}
            n = self._counts.get((client, slot), 0) + 1
            self._counts[(client, slot)] = n
        return n <= limit, int(window - now % window) + 1


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str = "reelgate:rl") -> None:
        import redis

        self._r = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def hit(self, client: str, limit: int, window: int = 60) -> tuple[bool, int]:
        now = time.time()
        key = f"{self._prefix}:{client}:{int(now // window)}"
        pipe = self._r.pipeline()
        pipe.incr(key)
        pipe.expire(key, window + 5)
        n, _ = pipe.execute()
        return int(n) <= limit, int(window - now % window) + 1


def make_rate_limiter(broker_url: str | None) -> RateLimiter:
    if broker_url and broker_url.startswith(("redis://", "rediss://")):
        return RedisRateLimiter(broker_url)
    return MemoryRateLimiter()
