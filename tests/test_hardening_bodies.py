"""Issue 17, hole 8: a request is refused from its headers before its body is read. Per-route body limits
(JSON routes 64 KiB, uploads the configured maximum) on Content-Length up front and while streaming; the API
key and the verify rate limit checked before a byte of the body is taken. Bodies here are generators that
record whether anyone pulled from them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.limits import JSON_MAX_BYTES
from gate.users import create_user

MIB = 2**20


class Body:
    """A request body of `chunks` x `size` bytes that counts how many bytes were pulled from it."""

    def __init__(self, chunks: int, size: int = MIB, fill: bytes = b" ") -> None:
        self.chunks, self.size, self.fill, self.pulled = chunks, size, fill, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += self.size
            yield self.fill * self.size


@pytest.fixture
def api(components):
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    keys = {name: create_user(components.engine, name, role)[1]
            for name, role in [("alice", "creator"), ("jane", "journalist")]}
    return TestClient(app), keys, app


def hdr(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_large_json_without_a_key_is_401_unread(api) -> None:
    client, _, _ = api
    body = Body(32)  # 32 MiB, chunked: no Content-Length to refuse it by
    r = client.post("/v1/generations", content=iter(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and "API key" in r.json()["detail"], r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert body.pulled == 0


def test_a_large_json_with_an_invalid_key_is_401_unread(api) -> None:
    client, _, _ = api
    body = Body(32)
    r = client.post("/v1/generations", content=iter(body),
                    headers=hdr("rg_not-a-real-key") | {"Content-Type": "application/json"})
    assert r.status_code == 401 and "invalid" in r.json()["detail"]
    assert body.pulled == 0


def test_a_wrong_role_is_403_before_the_upload(api) -> None:
    client, keys, _ = api
    body = Body(32)  # a creator posting reference images to a rights holder's route
    r = client.post("/v1/rights/works", content=iter(body), headers=hdr(keys["alice"]) | {
        "Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 403 and "rights_holder" in r.json()["detail"], r.text
    assert body.pulled == 0


def test_a_declared_length_over_the_json_limit_is_413_unread(api) -> None:
    client, keys, _ = api
    body = Body(1, JSON_MAX_BYTES + 1)
    r = client.post("/v1/generations", content=iter(body), headers=hdr(keys["alice"]) | {
        "Content-Type": "application/json", "Content-Length": str(JSON_MAX_BYTES + 1)})
    assert r.status_code == 413 and "64 KiB" in r.json()["detail"]
    assert body.pulled == 0
    # a 100,000-character prompt, sent plainly, is refused by size before it is parsed
    r = client.post("/v1/generations", json={"prompt": "x" * 100_000}, headers=hdr(keys["alice"]))
    assert r.status_code == 413


def test_an_upload_route_keeps_the_upload_limit(api) -> None:
    client, _, app = api
    limit = app.state.components.settings.max_upload_bytes
    # a garbage file bigger than any JSON limit reaches the media check (422), not a 413
    r = client.post("/v1/verify", files={"file": ("x.mp4", b"\0" * (4 * JSON_MAX_BYTES), "video/mp4")})
    assert r.status_code == 422 and "not a readable" in r.json()["detail"], r.text
    body = Body(1)
    r = client.post("/v1/verify", content=iter(body), headers={
        "Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(limit + 1)})
    assert r.status_code == 413 and body.pulled == 0
    r = client.post("/v1/verify", content=b"x", headers={"Content-Length": "12abc"})
    assert r.status_code == 400 and r.json()["detail"] == "invalid Content-Length"


def test_a_chunked_body_is_cut_off_at_the_route_limit(components) -> None:
    """Raw ASGI: the app pulls only as far as the limit from a chunked 16 MiB JSON, then answers 413."""
    from api.app import create_app

    app = create_app(components=components, dispatch=lambda job_id: None)
    _, key = create_user(components.engine, "alice", "creator")
    pulled, sent = 0, []

    async def receive() -> dict:
        nonlocal pulled
        if pulled >= 16 * MIB:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 16 * 1024
        return {"type": "http.request", "body": b" " * (16 * 1024), "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/generations", "raw_path": b"/v1/generations", "root_path": "", "query_string": b"",
             "client": ("127.0.0.1", 1234), "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {key}".encode())]}
    # in a thread of its own: an earlier test (Playwright's sync API) may leave an event loop in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert pulled <= JSON_MAX_BYTES + 16 * 1024


def test_over_the_verify_rate_limit_is_429_before_the_upload(api, monkeypatch) -> None:
    from api.routes import verify

    client, _, _ = api
    monkeypatch.setitem(verify.LIMITS, "anonymous", 2)
    for _ in range(2):  # counted once each, although the guard and the route both know the limit
        r = client.post("/v1/verify", files={"file": ("x.mp4", b"not a video", "video/mp4")})
        assert r.status_code == 422, r.text
    body = Body(32)
    r = client.post("/v1/verify", content=iter(body), headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 429 and "rate limit of 2" in r.json()["detail"], r.text
    assert int(r.headers["retry-after"]) > 0
    assert body.pulled == 0


def test_a_journalists_key_is_checked_and_counted_before_the_upload(api, monkeypatch) -> None:
    from api.routes import verify

    client, keys, _ = api
    monkeypatch.setitem(verify.LIMITS, "journalist", 1)
    r = client.post("/v1/verify", files={"file": ("x.mp4", b"not a video", "video/mp4")}, headers=hdr(keys["jane"]))
    assert r.status_code == 422
    body = Body(8)
    r = client.post("/v1/verify", content=iter(body), headers=hdr(keys["jane"]) | {
        "Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 429 and body.pulled == 0
    body = Body(8)  # an invalid key on the public route is a 401, not an anonymous request
    r = client.post("/v1/verify", content=iter(body), headers=hdr("rg_forged") | {
        "Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 401 and body.pulled == 0


def test_the_console_verify_page_refuses_over_the_limit_before_the_upload(api, monkeypatch) -> None:
    from api.routes import verify

    client, _, _ = api
    monkeypatch.setitem(verify.LIMITS, "anonymous", 0)
    body = Body(8)
    r = client.post("/verify", content=iter(body), headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 429 and "limit of 0 verifications" in r.text
    assert body.pulled == 0


def test_json_limit_fits_the_largest_valid_prompt(api) -> None:
    """2,000 characters outside the BMP, each written as a JSON \\uXXXX\\uXXXX pair: 24 KB, under the limit."""
    import json

    client, keys, _ = api
    raw = json.dumps({"prompt": "\U0001f408" * 2000}, ensure_ascii=True).encode()
    assert 24_000 <= len(raw) <= JSON_MAX_BYTES
    r = client.post("/v1/generations", content=raw,
                    headers=hdr(keys["alice"]) | {"Content-Type": "application/json"})
    assert r.status_code != 413, r.text


def test_each_route_gets_its_limit_and_checks(api) -> None:
    from api.limits import RequestGuard

    _, _, app = api
    upload = app.state.components.settings.max_upload_bytes
    guard = RequestGuard(app, upload)

    def rules(method: str, path: str):
        return guard.rules({"type": "http", "method": method, "path": path, "root_path": "", "app": app,
                            "headers": [], "query_string": b""})

    for method, path in [("POST", "/v1/verify"), ("POST", "/v1/cameos"), ("POST", "/v1/rights/works"),
                         ("POST", "/verify"), ("POST", "/cameos/enroll"), ("POST", "/rights/works")]:
        assert rules(method, path).max_bytes == upload, path  # the console pages read their files themselves
    for method, path in [("POST", "/v1/generations"), ("PUT", "/v1/policy"), ("POST", "/create"),
                         ("POST", "/signin"), ("GET", "/v1/generations/abc"), ("POST", "/no/such/route")]:
        assert rules(method, path).max_bytes == JSON_MAX_BYTES, path
    assert rules("POST", "/v1/generations").key == "required"
    assert rules("POST", "/v1/verify").key == "optional" and rules("POST", "/v1/verify").before_body
    assert rules("POST", "/verify").key is None  # the console signs in with a session, not a key
