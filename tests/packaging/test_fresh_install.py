"""The built wheel in a fresh virtual environment that holds only the core dependencies.

Installing torch afresh takes minutes, so the new environment gets the wheel itself from pip
and, for each distribution of the core dependencies' closure (as the wheel's metadata
declares them), a symbolic link to what this environment installed; nothing else of this
environment is visible there (``python -I``: no PYTHONPATH, no user site, no current folder).
"""

from __future__ import annotations

import email
import importlib.util
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = ("typer", "PIL", "matplotlib", "sklearn", "h5py", "mlxtend", "onnxruntime")
"""Packages of the extras, which the fresh environment must not see."""

SMALL_EXPLAIN = """
import importlib.util, sys
from pathlib import Path
import leapfactual as lf

assert Path(lf.__file__).is_relative_to(Path(sys.prefix)), lf.__file__
absent = [m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None]
assert absent == [], f"not a core-only environment: {absent}"
data = lf.load_dataset("mnist5k")  # packaged in the wheel
images, labels = data.images[::20], data.labels[::20]
quick = {"epochs": 1, "min_steps": 0}
vae = lf.VAESettings(latent_dim=4, width=8, probe=False, **quick)
codec = lf.fit_vae(images, vae, seed=0)
classifier = lf.fit_classifier(images, labels, 10, lf.ClassifierSettings(width=8, **quick), seed=0)
field = lf.fit_flow_for(classifier, codec, images, lf.FlowSettings(**quick), seed=0)
blend, inject = lf.Blend(steps=2), lf.Inject(steps=1)
explainer = lf.LeapFactual(classifier, codec, field.eval(), blend=blend, inject=inject)
exp = explainer.explain(images[:8], target=3)
exp.save("out")
print("explained", len(exp), tuple(exp.x_cf.shape), type(lf.Explanation.load("out")).__name__)
try:
    lf.load_dataset("digits")
except ImportError as err:
    print("digits:", err)
"""


def core_requirements(wheel: Path, extras: tuple[str, ...] = ()) -> list[str]:
    """The wheel's Requires-Dist without the extras (but those of ``extras``)."""
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    meta = email.message_from_bytes(archive.read(info))
    wanted = [f'extra == "{e}"' for e in extras]
    return [
        r.split(";")[0] if any(w in r for w in wanted) else r
        for r in meta.get_all("Requires-Dist")
        if "extra ==" not in r or any(w in r for w in wanted)
    ]


def closure(requirements: list[str]):
    """scripts/install_size.py's dependency closure (the one implementation)."""
    spec = importlib.util.spec_from_file_location(
        "install_size", ROOT / "scripts" / "install_size.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.closure(requirements)


def core_only_venv(wheel: Path, where: Path, extras: tuple[str, ...] = ()) -> Path:
    """A new venv with the wheel installed and the core closure (and that of ``extras``)
    linked in; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    site = Path(
        subprocess.run(
            [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    here = Path(sysconfig.get_paths()["purelib"])
    for dist in closure(core_requirements(wheel, extras)).values():
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops - {"__pycache__"}:
            if not (site / top).exists():
                (site / top).symlink_to(here / top)
    return python


@pytest.mark.slow
def test_the_wheel_explains_with_only_the_core_dependencies(wheel, tmp_path) -> None:
    python = core_only_venv(wheel, tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(
        [str(python), "-I", "-c", SMALL_EXPLAIN, *OPTIONAL],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "explained 8 (8, 1, 28, 28) Explanation" in done.stdout
    assert "pip install 'leapfactual[data]'" in done.stdout
    script = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "leapfactual"), "--help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert script.returncode == 2
    assert script.stdout == ""
    assert script.stderr.count("\n") == 1
    assert "pip install 'leapfactual[cli]'" in script.stderr


@pytest.mark.slow
def test_the_installed_command_lists_the_product_commands_only(wheel, tmp_path) -> None:
    core_only_venv(wheel, tmp_path / "venv", extras=("cli",))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "leapfactual"), "--help"],
        cwd=tmp_path, env={**env, "COLUMNS": "120"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    after = lines[lines.index("Commands:") + 1 :]
    listed = {line.split()[0] for line in after if line.startswith("  ") and line[2] != " "}
    assert listed == {"demo", "fit", "explain", "report", "audit", "repair"}
