"""docs/tutorials/own-model.md: its Python is the example script's (which runs as its notebook,
tests/docs/test_notebooks.py), and its command lines run."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from leapfactual.testing import NO_MIN_STEPS, set_args

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorials" / "own-model.md"
EXAMPLE = ROOT / "examples" / "own_model.py"
QUICK_FIT = set_args(
    {
        "vae.epochs": 1,
        "flow.epochs": 2,
        "classifier.accept_chance": "true",  # the --quick classifier is near chance
        **NO_MIN_STEPS,
    }
)


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TUTORIAL.read_text(encoding="utf-8"), re.S)


def test_the_python_shown_is_the_example_scripts() -> None:
    example = EXAMPLE.read_text(encoding="utf-8")
    for line in blocks("python")[0].splitlines():
        assert line.strip() in example, f"not in examples/own_model.py: {line.strip()}"


@pytest.mark.slow
def test_the_command_lines_run(cli, tmp_path, monkeypatch) -> None:
    """The script in its own process (as a user runs it), the commands in this one."""
    monkeypatch.chdir(tmp_path)
    files, commands = blocks("bash")[:2]
    lines = [line for line in (files + commands).splitlines() if line.strip()]
    for line in lines:
        args = shlex.split(line.split("  #")[0])
        if args[0] == "python":
            script = [sys.executable, str(ROOT / args[1]), *args[2:], "--quick"]
            done = subprocess.run(script, capture_output=True, text=True, timeout=900)
        else:
            done = cli(*args[1:], *(QUICK_FIT if args[1] == "fit" else []))
        assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
    run = json.loads(Path("work/run/run.json").read_text())
    assert run["data"]["shape"] == [3, 32, 32]
    assert run["classifier_source"]["kind"] == "export"
    exp = json.loads(Path("work/explained/explanation.json").read_text())
    assert len(exp["config"]["inputs"]) == 16
