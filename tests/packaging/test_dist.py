"""The sdist and the wheel: they build, pass twine's check, carry LICENSE, NOTICE, py.typed
and the packaged data, and declare what the code needs."""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_twine_check_passes(dist) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    assert len(files) == 2  # one sdist, one wheel
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_license_notice_typing_marker_and_data_are_in_both(dist, wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    for name in (
        f"{info}/licenses/LICENSE",
        f"{info}/licenses/NOTICE",
        "leapfactual/py.typed",
        "leapfactual/data/mnist5k.npz",
        "leapfactual/report/templates/report.html.j2",
    ):
        assert name in names, f"{name} is not in the wheel"
    (sdist,) = dist.glob("leapfactual-*.tar.gz")
    with tarfile.open(sdist) as archive:
        inside = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in (
        "LICENSE",
        "NOTICE",
        "src/leapfactual/py.typed",
        "src/leapfactual/data/mnist5k.npz",
    ):
        assert name in inside, f"{name} is not in the sdist"


def test_the_wheel_holds_the_library_and_not_the_paper(wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"leapfactual"}
    packages = {n.split("/")[1] for n in names if n.startswith("leapfactual/") and n.count("/") > 1}
    assert not packages & {"experiments", "bench"}, packages
    assert "leapfactual/testing/conformance.py" in names  # check_explainer ships


def test_metadata_declares_the_floor_the_extras_and_the_console_script(wheel) -> None:
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    meta = email.message_from_bytes(archive.read(info))
    assert meta["License-Expression"] == "Apache-2.0"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    requires = meta.get_all("Requires-Dist")
    assert "torch>=2.5" in requires
    assert set(meta.get_all("Provides-Extra")) == {
        "cli",
        "plots",
        "data",
        "onnx",
        "hf",
        "diffusers",
        "timm",
        "tensorboard",
        "mlflow",
        "all",
        "docs",
        "dev",
    }
    core = [r for r in requires if "extra ==" not in r]
    assert not any(name in " ".join(core) for name in ("typer", "matplotlib", "pillow", "mlxtend"))
    scripts = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "leapfactual = leapfactual.cli.console:main" in scripts
