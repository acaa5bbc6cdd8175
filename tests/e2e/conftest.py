"""Fixtures of the browser tier: a real ``pyxisd``, the built UI, headless Chromium.

``ui_dist`` builds the web UI once (``ui/build-cached.sh``: a cache hit is a copy);
``node`` is a ``pyxisd`` shared by the whole session with an ``Administrator``
``admin@pve``; ``browser`` is Debian's ``/usr/bin/chromium`` driven by Playwright
(no Playwright browser downloads).  Each test gets a fresh ``page`` (1366x768, the
laptop screen the UI is designed for) whose console errors and uncaught exceptions fail
the test, except those a test declares with ``ui.allow_console_error(regex)``.
``ui.shot(page, name)`` saves screenshots and ``ui.record(key, value)`` metrics into
``test-artifacts/e2e/`` (``metrics.json``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from daemon import ADMIN, ADMIN_PW, Daemon, DaemonFactory

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PYXIS_E2E_ARTIFACTS", REPO / "test-artifacts" / "e2e"))
CHROMIUM = os.environ.get("PYXIS_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1366, "height": 768}
NODE = "pyxis1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (Debian package chromium; scripts/setup-host)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install -e '.[test]')")
    if not missing:
        return
    skip = pytest.mark.skip(reason="e2e tier needs " + " and ".join(missing))
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ui_dist() -> Path:
    """ui/dist, built (or copied from the build cache) once per session."""
    dist = REPO / "ui" / "dist"
    if os.environ.get("PYXIS_E2E_NO_BUILD") and (dist / "index.html").exists():
        return dist
    subprocess.run([str(REPO / "ui" / "build-cached.sh")], check=True)
    assert (dist / "index.html").exists()
    return dist


def _metrics_path() -> Path:
    return ARTIFACTS / "metrics.json"


def record(key: str, value: Any) -> None:
    """Merge ``{key: value}`` into test-artifacts/e2e/metrics.json (and print it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = _metrics_path()
    data: dict[str, Any] = {}
    with contextlib.suppress(FileNotFoundError, ValueError):
        data = json.loads(path.read_text())
    data[key] = value
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"\ne2e metric {key} = {json.dumps(value)} ({path})")


@pytest.fixture(scope="session", autouse=True)
def _fresh_artifacts() -> Iterator[None]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        _metrics_path().unlink()
    yield
    print(f"\ne2e artifacts (screenshots, metrics.json): {ARTIFACTS}")


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory, ui_dist: Path) -> Iterator[Daemon]:
    factory = DaemonFactory(tmp_path_factory.mktemp("e2e"))
    try:
        d = factory.start(node=NODE)
        d.add_admin(ADMIN, ADMIN_PW)
        yield d
    finally:
        factory.close()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Any) -> Iterator[Any]:
    b = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    )
    try:
        yield b
    finally:
        b.close()


@dataclass
class UI:
    """Per-test helpers around one daemon and one browser page."""

    daemon: Daemon
    test_name: str
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def node(self) -> str:
        return self.daemon.node

    @property
    def url(self) -> str:
        return self.daemon.url

    def allow_console_error(self, pattern: str) -> None:
        """Expected console errors (e.g. the 401 of a failed login) do not fail the test."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, msg: Any) -> None:
        if msg.type == "error":
            loc = msg.location or {}
            text = f"{msg.text} [{loc.get('url', '')}:{loc.get('lineNumber', '')}]"
            if not any(p.search(text) for p in self.allowed):
                self.errors.append(text)

    def on_pageerror(self, exc: Any) -> None:
        self.errors.append(f"uncaught: {exc}")

    def goto(self, page: Any, hash_: str = "") -> None:
        page.goto(f"{self.url}/{hash_}")

    def login(
        self, page: Any, user: str = ADMIN, password: str = ADMIN_PW, realm: str | None = None
    ) -> None:
        """Log in through the login form and wait for the shell."""
        if "#" not in page.url:
            self.goto(page)
        page.locator("#login-user").fill(user)
        page.locator("#login-password").fill(password)
        if realm is not None:
            page.locator("#login-realm").select_option(realm)
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("resource-tree").wait_for()

    def shot(self, page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path))
        print(f"\nscreenshot: {path}")
        return path

    def record(self, key: str, value: Any) -> None:
        record(key, value)


@pytest.fixture
def ui(node: Daemon, request: pytest.FixtureRequest) -> UI:
    return UI(node, request.node.name)


def new_page(browser: Any, ui: UI) -> Any:
    context = browser.new_context(ignore_https_errors=True, viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.on("console", ui.on_console)
    page.on("pageerror", ui.on_pageerror)
    return page


@pytest.fixture
def page(browser: Any, ui: UI) -> Iterator[Any]:
    p = new_page(browser, ui)
    try:
        yield p
    finally:
        p.context.close()
    assert not ui.errors, "console errors in the browser:\n" + "\n".join(ui.errors)


def api_session(d: Daemon, user: str = ADMIN, password: str = ADMIN_PW) -> Any:
    """A requests session logged in to ``d`` (ticket cookie + CSRF header)."""
    import requests
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    s = requests.Session()
    s.verify = False
    s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify=False
    r = s.post(d.api("/access/ticket"), data={"username": user, "password": password})
    r.raise_for_status()
    data = r.json()["data"]
    s.cookies.set("PVEAuthCookie", data["ticket"])
    s.headers["CSRFPreventionToken"] = data["CSRFPreventionToken"]
    return s
