"""One build of the sdist and the wheel per session, shared by the packaging tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    """``python -m build`` (sdist, then the wheel from it) with this environment's
    setuptools (no isolated download of the backend)."""
    pytest.importorskip("build", reason="the dev extra builds the distributions")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def wheel(dist: Path) -> Path:
    """The built wheel."""
    (found,) = dist.glob("leapfactual-*.whl")
    return found
