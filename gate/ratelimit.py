"""Fixed-window rate limits per client (IP or API key), shared by every API process: on Redis when the
service runs with a Redis broker, otherwise in the database (an AMQP broker or the embedded queue gives the
API processes nothing else in common). MemoryRateLimiter is for one process only (tests, tools).

IPv6 clients are counted per /64: one host usually holds a whole /64, so counting each address would give
it 2^64 budgets.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

IPV6_PREFIX = 64


def bucket(client: str) -> str:
    """The counter a client shares: "ip:ADDR" becomes its IPv4 address or its IPv6 /64; others unchanged."""
    if not client.startswith("ip:"):
        return client
    try:
        addr = ipaddress.ip_address(client[3:].split("%", 1)[0])
    except ValueError:
        return client
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or addr.sixtofour
        if mapped is not None:
            return f"ip:{mapped}"
        return f"ip:{ipaddress.IPv6Network((addr, IPV6_PREFIX), strict=False)}"
    return f"ip:{addr}"


class RateLimiter(Protocol):
    def hit(self, client: str, limit: int, window: int = 60) -> tuple[bool, int]:
        """(allowed, seconds until the window resets)."""
        ...


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, client: str, limit: int, window: int = 60) -> tuple[bool, int]:
        client = bucket(client)
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
        client = bucket(client)
        now = time.time()
        key = f"{self._prefix}:{client}:{int(now // window)}"
        pipe = self._r.pipeline()
        pipe.incr(key)
        pipe.expire(key, window + 5)
        n, _ = pipe.execute()
        return int(n) <= limit, int(window - now % window) + 1


class DatabaseRateLimiter:
    """Counts in the rate_counts table: one atomic upsert per hit (INSERT ... ON CONFLICT DO UPDATE ...
    RETURNING, on SQLite and PostgreSQL), so concurrent processes never lose a count."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def hit(self, client: str, limit: int, window: int = 60) -> tuple[bool, int]:
        from gate.models import RateCount

        client = bucket(client)
        now = time.time()
        slot = int(now // window)
        key = f"{client}:{window}:{slot}"
        if len(key) > 200:
            key = "h:" + hashlib.sha256(key.encode()).hexdigest()
        expires = datetime.fromtimestamp((slot + 1) * window, UTC) + timedelta(seconds=5)
        table = RateCount.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table classes at runtime
        # both dialects' insert has ON CONFLICT DO UPDATE (the generic one has not)
        insert: Callable[..., Any] = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(table).values(key=key, count=1, expires_at=expires)
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.key], set_={"count": table.c.count + 1})
        with self._engine.begin() as conn:
            n: int = conn.execute(stmt.returning(table.c.count)).scalar_one()
            if random.random() < 0.01:  # now and then, forget ended windows
                conn.execute(table.delete().where(table.c.expires_at < datetime.now(UTC)))
        return int(n) <= limit, int(window - now % window) + 1


def make_rate_limiter(broker_url: str | None, engine: Engine | None = None) -> RateLimiter:
    """Redis with a Redis broker; else the database every API process shares (in memory only without one)."""
    if broker_url and broker_url.startswith(("redis://", "rediss://")):
        return RedisRateLimiter(broker_url)
    if engine is not None:
        return DatabaseRateLimiter(engine)
    return MemoryRateLimiter()
