"""Headless Chromium helpers for report tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROBE = (
    "<script>window.addEventListener('load',()=>{const i=[...document.images];"
    "document.body.setAttribute('data-probe',JSON.stringify({n:i.length,"
    "decoded:i.filter(m=>m.complete&&m.naturalWidth>0).length,"
    "external:[...document.querySelectorAll('script[src],link[href]')].length}));});</script>"
)


def chromium() -> str:
    """Path of Chromium; in CI its absence is a failure, elsewhere the test is skipped."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: `make test` should have installed it")
        pytest.skip("chromium is not installed (make test installs Debian's chromium)")
    return path


def probe_images(page: Path) -> dict[str, int]:
    """Load a copy of ``page`` with a probe script; count images and decoded images."""
    html = page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "probe.html"
        copy.write_text(html, encoding="utf-8")
        out = subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={tmp}/profile",
                "--virtual-time-budget=10000",
                "--dump-dom",
                copy.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    match = re.search(r"data-probe=\"([^\"]+)\"", out)
    assert match, "the page did not finish loading in Chromium"
    return json.loads(match.group(1).replace("&quot;", '"'))


def screenshot(page: Path, png: Path, size: str = "1280,2400") -> Path:
    """Render ``page`` to ``png`` (for people to look at)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={tmp}/profile",
                f"--window-size={size}",
                f"--screenshot={png}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    return png
