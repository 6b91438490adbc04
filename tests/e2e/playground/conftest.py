"""A real headless Chromium on the playground page of a real ``openrerank serve``.

The browser is Debian's ``chromium`` (``apt-get install chromium``) driven by Playwright's
Python package through ``executable_path``: nothing downloads a browser. Without it these
tests skip, saying so, except where ``OPENRERANK_REQUIRE_CHROMIUM`` is set (``.ci/run``
sets it), where they fail. Every wait has a timeout; the browser talks to 127.0.0.1 only,
with Chromium's own background connections switched off.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
REQUIRE_CHROMIUM = "OPENRERANK_REQUIRE_CHROMIUM"
LAUNCH_TIMEOUT_MS = 60_000
ACTION_TIMEOUT_MS = 30_000
RANK_TIMEOUT_MS = 120_000  # the reference model on a busy 2-core CPU
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
KEY_DEBOUNCE_S = 0.3  # the page reloads the models this long after the key changes


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, for the tests of one module."""
    if not CHROMIUM.is_file():
        message = (
            f"{CHROMIUM} is missing: the playground's browser tests need Debian's chromium "
            "(apt-get install chromium)"
        )
        if os.environ.get(REQUIRE_CHROMIUM):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_FLAGS),
            timeout=LAUNCH_TIMEOUT_MS,
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests write their screenshots (pytest's temporary folder)."""
    return tmp_path_factory.mktemp("playground-screenshots")


@dataclass
class Playground:
    """One tab on the playground page, with what its console reported."""

    page: Page
    url: str
    console_errors: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        self.page.goto(self.url + "/", wait_until="load", timeout=ACTION_TIMEOUT_MS)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def hook(self, name: str) -> Locator:
        return self.page.get_by_test_id(name)

    def sign_in(self, key: str) -> None:
        """Type the API key; the page then lists the models with it."""
        self.hook("api-key").fill(key)
        self.page.wait_for_timeout(KEY_DEBOUNCE_S * 1000)
        self.wait_for_models()

    def wait_for_models(self) -> None:
        # Locator waits, not wait_for_function: the page's CSP forbids evaluating strings.
        options = self.page.locator("#model option")
        expect(options).not_to_have_count(0, timeout=ACTION_TIMEOUT_MS)

    def fill(self, query: str, documents: list[str] | None = None) -> None:
        self.hook("query").fill(query)
        if documents is not None:
            self.hook("documents").fill("\n".join(documents))

    def submit_and_wait(self, count: int) -> list[Locator]:
        """Press the button; the ranked results once ``count`` of them are shown."""
        self.hook("submit").click()
        return self.wait_for_results(count)

    def wait_for_results(self, count: int) -> list[Locator]:
        results = self.hook("result")
        expect(results).to_have_count(count, timeout=RANK_TIMEOUT_MS)
        return results.all()

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=str(path), full_page=True, timeout=ACTION_TIMEOUT_MS)

    def overflows(self) -> bool:
        """Whether the page is wider than the viewport (a horizontal scroll bar)."""
        width = self.page.evaluate("document.documentElement.scrollWidth")
        viewport = self.page.viewport_size
        return viewport is not None and int(width) > viewport["width"]


@pytest.fixture
def open_playground(browser: Browser) -> Iterator[PlaygroundFactory]:
    """``open_playground(url, viewport=DESKTOP)``: a fresh tab (own session storage) on
    the page; its context is closed when the test ends."""
    contexts = []

    def factory(url: str, viewport: ViewportSize = DESKTOP) -> Playground:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        playground = Playground(context.new_page(), url)
        playground.open()
        return playground

    yield factory
    for context in contexts:
        with contextlib.suppress(Error):  # already closed with the browser
            context.close()


class PlaygroundFactory(Protocol):
    """The type of :func:`open_playground`."""

    def __call__(self, url: str, viewport: ViewportSize = ...) -> Playground: ...
