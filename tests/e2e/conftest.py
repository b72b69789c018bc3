"""Browser tests: Debian's Chromium driven by Playwright against the app served by uvicorn on 127.0.0.1.

Chromium comes from apt (`make test` installs it when /usr/bin/chromium is missing). Without it these tests
fail with a clear message under CI (env CI set) and are skipped with the reason elsewhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.browser_helpers import ARTIFACTS

# REELGATE_E2E_CHROMIUM points at another build (and lets the "missing browser" path be checked by hand).
CHROMIUM = os.environ.get("REELGATE_E2E_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        # a fake camera, so the MediaRecorder enrollment path runs for real without hardware
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {why}", pytrace=False)
    pytest.skip(why)


@dataclass
class Server:
    url: str
    keys: dict[str, str]
    components: Any
    ids: dict[str, Any] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import uvicorn

    from api.app import create_app
    from gate import jobs
    from gate.components import Components
    from gate.settings import Settings
    from gate.users import create_user

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    c = Components(Settings(data_dir=tmp_path_factory.mktemp("e2e-data")))
    workers: list[threading.Thread] = []

    def dispatch(job_id: str) -> None:  # the embedded worker, in a thread of this process
        t = threading.Thread(target=jobs.run_job, args=(c, job_id), daemon=True)
        t.start()
        workers.append(t)

    # Load the prompt model while the first pages are tested (it takes ~20 s cold on this CPU).
    threading.Thread(target=c.prompt_classifier.get, daemon=True).start()
    app = create_app(components=c, dispatch=dispatch)
    keys = {name: create_user(c.engine, name, role)[1] for name, role in [
        ("alice", "creator"), ("bob", "creator"), ("olga", "operator"), ("rita", "rights_holder"),
        ("jane", "journalist")]}
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", keys, c)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        for t in workers:
            t.join(timeout=30)
        c.engine.dispose()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    executable = CHROMIUM if os.path.exists(CHROMIUM) else None
    if executable is None and "REELGATE_E2E_CHROMIUM" not in os.environ:
        executable = shutil.which("chromium")
    if executable is None:
        _unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver; `make test` does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=executable, args=ARGS)
        except Exception as exc:
            _unavailable(f"Chromium would not start: {exc}")
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, server) -> Iterator[Any]:
    ctx = chromium.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # a Content-Security-Policy refusal breaks a page silently: any one fails the test
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
