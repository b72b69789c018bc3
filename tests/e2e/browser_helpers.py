"""Helpers for the browser tests: screenshots (desktop and phone width) and signing in through the form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PHONE = {"width": 390, "height": 844}


def shot(page: Any, name: str, phone: bool = False) -> Path:
    """Screenshot (full page) into test-artifacts/e2e/; with phone=True also at phone width."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if phone:
        size = page.viewport_size
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        page.set_viewport_size(size)
        assert width <= PHONE["width"] + 1, f"{name}: the page scrolls sideways at phone width ({width}px)"
    return path


def sign_in(page: Any, key: str) -> None:
    page.goto("/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/signin" not in url)


AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2 A/AA rules on the current page (labels, contrast, lang, names, ...)."""
    # evaluated through the DevTools protocol: a <script> tag with axe inline would be refused by the CSP
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
    return [f"{page.url}: {v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]} {v['help']}"
            for v in result["violations"]]
