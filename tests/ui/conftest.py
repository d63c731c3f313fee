"""Headless Chromium (Debian's package) driven by Playwright for Python, for the page at /ui.

Playwright's own browser download is never used: the system browser is found on PATH (or at
$CHROMIUM), and `make browser` (part of `make test`) installs it with apt-get. Screenshots of each state go to reports/ui/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, chromium_path

SCREENSHOTS = REPO / "reports" / "ui"


@dataclass
class Watched:
    """A page and what it did: console errors, uncaught exceptions, requests to other origins."""

    page: Any
    origin: str
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def shot(self, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright  # a dev dependency: make install

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """``open_page(url, width=1280)``: a fresh context and page at ``url``, watched."""
    contexts: list[Any] = []

    def open_at(url: str, width: int = 1280, height: int = 900, **options: Any) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = context.new_page()
        origin = url.split("/ui", 1)[0]
        watched = Watched(page, origin)
        page.on("console", lambda message: message.type == "error" and watched.errors.append(message.text))
        page.on("pageerror", lambda error: watched.errors.append(str(error)))
        own = (origin + "/", f"blob:{origin}/")  # a dropped file's preview is a blob of this origin
        page.on(
            "request",
            lambda request: None if request.url.startswith(own) else watched.outside.append(request.url),
        )
        page.goto(url)
        return watched

    yield open_at
    for context in contexts:
        context.close()
