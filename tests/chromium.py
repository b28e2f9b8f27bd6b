"""Headless Chromium for the tests that open posebeam's HTML pages (Debian's ``chromium`` package,
installed by ``.ci/run``): the rendered DOM, the console lines, and a screenshot."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
"""Screenshots kept after the tests (ignored by git; CI keeps the folder)."""


@dataclass(frozen=True)
class LoadedPage:
    dom: str
    console: list[str]  # the page's console messages (it should have none)


def chromium() -> str:
    """The Chromium binary; the test is skipped without one, except on CI, where it fails."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def open_page(page: Path, screenshot: Path, size: tuple[int, int] = (1280, 2200)) -> LoadedPage:
    """Load ``page`` (letting its scripts and images finish), return its DOM and console lines,
    and save a screenshot."""
    binary = chromium()
    url = page.resolve().as_uri()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        common = [binary, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000"]
        dumped = subprocess.run(
            [*common, "--enable-logging=stderr", "--v=0", "--dump-dom", url],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        subprocess.run(
            [*common, f"--window-size={size[0]},{size[1]}", f"--screenshot={screenshot}", url],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
    console = [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line]
    return LoadedPage(dumped.stdout, console)
