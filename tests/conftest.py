"""Shared fixtures: every test gets its own data directory (an independent install)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from gate.settings import Settings

    for key in list(os.environ):
        if key.startswith("REELGATE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("REELGATE_DATA_DIR", str(tmp_path / "data"))
    return Settings()


@pytest.fixture
def components(settings) -> Iterator:
    from gate.components import Components, reset_components

    c = Components(settings)
    yield c
    c.engine.dispose()
    reset_components()


# Where derived tables are cached is process-wide (safety.local_cache.use_cache_dir: Components and
# PromptClassifier.load set it). Each test module starts from the default, and a test's change is undone after it,
# so no test sees a dir another test configured (a test's tmp dir, which may be gone).
@pytest.fixture(scope="module", autouse=True)
def _module_cache_dir() -> Iterator[None]:
    from safety.local_cache import use_cache_dir

    use_cache_dir(None)
    yield
    use_cache_dir(None)


@pytest.fixture(autouse=True)
def _test_cache_dir() -> Iterator[None]:
    from safety.local_cache import configured_cache_dir, use_cache_dir

    before = configured_cache_dir()
    yield
    use_cache_dir(before)


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory):
    """The served prompt classifier, once per test module. Its exported encoder graph goes to a fresh dir, never
    the user's cache: the first load exports it (~10 s)."""
    from safety.prompt_classifier import PromptClassifier

    c = PromptClassifier.load(cache_dir=tmp_path_factory.mktemp("graph_cache"))
    ok, why = c.available()
    assert ok, why
    return c
