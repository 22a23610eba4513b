"""The one helper for optional imports: a missing package names the extra to install."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from leapfactual._optional import require
from leapfactual.io.images import png_bytes
from leapfactual.report.figures import figure
from leapfactual.report.html import render_html

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "leapfactual"
OPTIONAL = (
    "PIL|matplotlib|jinja2|onnxruntime|onnx|h5py|skimage|sklearn|mlxtend|torchmetrics|typer"
    "|transformers|diffusers|timm|skl2onnx"
)


def test_optional_packages_are_imported_only_through_require() -> None:
    """typer is imported directly only under cli/, which the console script enters after
    checking for it (leapfactual.cli.console)."""
    direct = [
        f"{path.relative_to(PACKAGE)}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(rf"\s*(?:import|from) (?:{OPTIONAL})\b", line)
        and not (path.parent.name == "cli" and re.match(r"\s*import typer$", line))
    ]
    assert direct == []


def test_present_module_is_returned() -> None:
    assert require("numpy", "data", "anything").__name__ == "numpy"


def test_missing_module_names_the_extra() -> None:
    with pytest.raises(ImportError, match=r"^the 'galaxy10' dataset needs 'leapfactual_no_such'"):
        require("leapfactual_no_such.sub", "data", "the 'galaxy10' dataset")
    with pytest.raises(ImportError, match=r"pip install 'leapfactual\[onnx\]'$"):
        require("leapfactual_no_such", "onnx", "ONNX classifiers")


def test_a_broken_installed_package_keeps_its_own_error(monkeypatch, tmp_path) -> None:
    (tmp_path / "leapfactual_broken.py").write_text("import leapfactual_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as caught:
        require("leapfactual_broken", "plots", "x")
    assert caught.value.name == "leapfactual_missing_dependency"


@pytest.mark.parametrize(
    ("module", "call"),
    [
        ("PIL.Image", lambda: png_bytes(torch.zeros(1, 4, 4))),
        ("matplotlib.figure", lambda: figure(figsize=(1, 1))),
        ("jinja2", lambda: render_html(None)),  # type: ignore[arg-type]
    ],
)
def test_plots_helpers_name_the_plots_extra(monkeypatch, module, call) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"pip install 'leapfactual\[plots\]'"):
        call()
