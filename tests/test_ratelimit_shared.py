"""Rate limits (issue 17, hole 10): IPv6 clients are counted per /64, and the counts are shared by every
API process when the broker is not Redis (AMQP, embedded queue): in the database."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from gate import db
from gate.ratelimit import DatabaseRateLimiter, MemoryRateLimiter, RedisRateLimiter, bucket, make_rate_limiter
from tests.services import fresh_pg_database, require_services


@pytest.mark.parametrize(("client", "expected"), [
    ("ip:2001:db8:1:2:aaaa::1", "ip:2001:db8:1:2::/64"),
    ("ip:2001:db8:1:2:ffff:ffff:ffff:fffe", "ip:2001:db8:1:2::/64"),
    ("ip:2001:db8:1:3::1", "ip:2001:db8:1:3::/64"),
    ("ip:::ffff:192.0.2.7", "ip:192.0.2.7"),  # an IPv4 client seen through a dual-stack socket
    ("ip:192.0.2.7", "ip:192.0.2.7"),
    ("ip:fe80::1%eth0", "ip:fe80::/64"),
    ("ip:testclient", "ip:testclient"),
    ("key:alice", "key:alice"),
])
def test_bucket(client: str, expected: str) -> None:
    assert bucket(client) == expected


def test_one_ipv6_host_cannot_rotate_addresses_within_its_64() -> None:
    limiter = MemoryRateLimiter()
    allowed = [limiter.hit(f"ip:2001:db8:0:1::{i:x}", 10)[0] for i in range(1, 40)]
    assert allowed.count(True) == 10  # 39 addresses of one /64 share one budget
    assert limiter.hit("ip:2001:db8:0:2::1", 10)[0]  # the next /64 is someone else


def test_non_redis_brokers_share_counts_in_the_database(components) -> None:
    for url in ("amqp://guest@localhost//", None):
        assert isinstance(make_rate_limiter(url, components.engine), DatabaseRateLimiter)
    assert isinstance(make_rate_limiter("redis://localhost:6379/0", components.engine), RedisRateLimiter)
    # two API processes (two limiters on one database): one budget between them
    a, b = DatabaseRateLimiter(components.engine), DatabaseRateLimiter(components.engine)
    results = [(a if i % 2 else b).hit("ip:198.51.100.9", 10) for i in range(16)]
    assert [ok for ok, _ in results].count(True) == 10
    assert all(1 <= retry <= 61 for _, retry in results)
    assert b.hit("key:alice", 10)[0]


def _hammer(limiter: DatabaseRateLimiter, n_threads: int = 8, per_thread: int = 25) -> int:
    allowed = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(per_thread):
            ok, _ = limiter.hit("ip:203.0.113.5", 50, window=3600)
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=run) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == n_threads * per_thread
    return allowed.count(True)


def test_concurrent_hits_lose_no_count_on_sqlite(components) -> None:
    assert _hammer(DatabaseRateLimiter(components.engine)) == 50


def test_concurrent_hits_lose_no_count_on_postgresql() -> None:
    require_services()
    with fresh_pg_database() as url:
        engine = db.make_engine(url)
        try:
            db.migrate(engine)
            assert _hammer(DatabaseRateLimiter(engine)) == 50
        finally:
            engine.dispose()


def test_the_app_counts_verify_requests_in_the_database(components) -> None:
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    assert isinstance(app.state.rate_limiter, DatabaseRateLimiter)
    other_process = create_app(components=components, dispatch=lambda job_id: None)
    codes = [TestClient(app if i % 2 else other_process).post("/v1/verify", files={"file": ("x.png", b"x")})
             .status_code for i in range(12)]
    assert codes.count(429) == 2, codes  # 10 anonymous verifications per minute, across both processes
