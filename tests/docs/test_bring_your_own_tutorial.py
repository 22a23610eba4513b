"""docs/tutorials/bring-your-own.md: its Python makes the models, its command lines run."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from leapfactual.testing import QUICK, set_args

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "tutorials" / "bring-your-own.md"
QUICK_FIT = set_args({k: v for k, v in QUICK.items() if k.split(".")[0] in ("vae", "flow")})


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TUTORIAL.read_text(encoding="utf-8"), re.S)


@pytest.mark.slow
def test_the_tutorial_runs(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    names: dict[str, object] = {}
    for code in blocks("python"):
        exec(compile(code, str(TUTORIAL), "exec"), names)
    for line in "".join(blocks("bash")).splitlines():
        args = shlex.split(line)[1:]
        done = cli(*args, *(QUICK_FIT if args[0] == "fit" else []))
        assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
    hf = json.loads(Path("byo/run-hf/run.json").read_text())
    assert hf["classifier_source"]["kind"] == "hf_directory"
    assert hf["classifier_source"]["class_names"] == ["dark", "light"]
    assert hf["classifier_source"]["preprocess"]["mean"] == [0.5, 0.5, 0.5]
    digits = json.loads(Path("byo/run-digits/run.json").read_text())["classifier_source"]
    assert digits["kind"] == "onnx" and digits["output"] == "probabilities"
    assert digits["preprocess"]["flatten"] is True
    vae = json.loads(Path("byo/run-vae/run.json").read_text())
    assert vae["codec_source"]["kind"] == "diffusers" and vae["config"]["flow"]["field"] == "unet2d"
    assert Path("byo/explained-vae/explanation.safetensors").is_file()
    assert Path("byo/explained-hf/report.html").is_file()


def test_the_timm_command_is_shown_but_not_run() -> None:
    """timm cannot be installed beside the pinned CPU torch (see the page): its line is a
    ``text`` block, which the test above does not run, and the page says so."""
    (timm,) = blocks("text")
    assert timm.startswith("leapfactual fit") and "timm:resnet10t:" in timm
    assert "not run by the tests" in TUTORIAL.read_text(encoding="utf-8")
