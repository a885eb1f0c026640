"""What the browser tests share: Debian's Chromium through Playwright (never a downloaded browser),
console accounts made with the real ``antre console user add``, and a sign-in through the real form."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"


def require(condition: bool, what: str) -> None:
    """Skip without ``what``; fail instead when CI asks for everything (ANTRE_REQUIRE_ALL)."""
    if not condition:
        if os.environ.get("ANTRE_REQUIRE_ALL"):
            pytest.fail(f"{what} is required (ANTRE_REQUIRE_ALL is set)")
        pytest.skip(f"{what} is not installed")


def playwright() -> tuple[Any, Any]:
    """Playwright's ``sync_playwright`` and ``expect``, once Debian's Chromium and Playwright are there."""
    require(Path(CHROMIUM).exists(), f"Debian's chromium ({CHROMIUM})")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - the dev extra installs it
        require(False, "playwright (pip)")
    return sync_playwright, expect


def launch(pw: Any) -> Any:
    return pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def add_account(config_path: Path, name: str, role: str, password: str, gerai: str = "") -> None:
    """An account made as a site's admin makes one (the password on standard input)."""
    argv = [sys.executable, "-m", "antre", "console", "user", "add", name, "--role", role]
    if gerai:
        argv += ["--gerai", gerai]
    subprocess.run(argv + ["--password-stdin", "--config", str(config_path)], input=password + "\n", text=True,
                   check=True, capture_output=True)


def sign_in(page: Any, url: str, user: str, password: str) -> None:
    """Sign in through the console's own form and wait for the page it leads to."""
    page.goto(url + "/login")
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
