"""The tutorial notebooks: generated from the example scripts, and they run in a plain Jupyter
kernel (tiny epochs) without a warning."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
MAKER = runpy.run_path(str(ROOT / "docs" / "make_notebooks.py"))
TUTORIALS: dict[str, str] = MAKER["TUTORIALS"]


@pytest.mark.parametrize("name", sorted(TUTORIALS))
def test_each_notebook_is_its_script_as_generated(name: str) -> None:
    committed = (ROOT / "docs" / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8")
    assert committed == MAKER["text"](MAKER["notebook"](name, TUTORIALS[name])), (
        "stale: run python docs/make_notebooks.py"
    )
    assert (ROOT / "docs" / "tutorials" / f"{name}.md").is_file()


def test_a_stale_notebook_is_reported(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(MAKER["main"].__globals__, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr("sys.argv", ["make_notebooks.py", "--check"])
    assert MAKER["main"]() == 1  # none written yet: every one is stale
    assert "stale: demo.ipynb" in capsys.readouterr().out
    monkeypatch.setattr("sys.argv", ["make_notebooks.py"])
    assert MAKER["main"]() == 0
    monkeypatch.setattr("sys.argv", ["make_notebooks.py", "--check"])
    assert MAKER["main"]() == 0 and "stale: none" in capsys.readouterr().out.splitlines()[-1]


def run_notebook(name: str, out: Path) -> Any:
    """The notebook executed with tiny epochs, writing into ``out``."""
    nb = nbformat.read(ROOT / "docs" / "notebooks" / f"{name}.ipynb", as_version=4)
    (parameters,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    parameters.source += f"\nquick = True\nout = Path({str(out)!r})"
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(out)}}
    )
    client.execute()
    return nb


def kernel_run(source: str, path: Path) -> Any:
    """One cell of ``source`` executed in a fresh plain kernel (no ipywidgets)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path)}}
    ).execute()
    return nb.cells[0]


def test_importing_the_library_in_a_plain_kernel_never_warns(tmp_path) -> None:
    def warned(imports: str) -> str:
        cell = kernel_run(
            "import warnings\nwith warnings.catch_warnings(record=True) as caught:\n"
            f"    warnings.simplefilter('always')\n    {imports}\n"
            "print([str(w.message) for w in caught])",
            tmp_path,
        )
        return printed(cell)

    ours = "import leapfactual, leapfactual.audit, leapfactual.pipeline, leapfactual.report"
    assert warned(ours) == "[]\n"
    assert "IProgress not found" in warned("import tqdm.auto")  # what the library used to do
    cell = kernel_run("from leapfactual._progress import tqdm\nprint(tqdm.__module__)", tmp_path)
    assert printed(cell) == "tqdm.std\n"  # no ipywidgets: the console bar


def printed(cell: Any, stream: str = "stdout") -> str:
    outputs = cell.get("outputs", [])
    return "".join(o.get("text", "") for o in outputs if o.get("name") == stream)


PRINTED = {
    "demo": [r"16 CEs: validity"],
    "audit": [r"27 CEs"],  # 3 digits toward every other class
    "scale-out": [
        r"computed shards \[0, 1, 2\] of 3",
        r"merged: 48 CEs",
        r"again: skipped 3 shards, computed \[\]",
    ],
    "attribution-metrics": [
        r"\d of 8 CEs reach their target",
        r"Captum max-sensitivity per CE: \[([\d.]+, ){7}[\d.]+\]",
        r"Quantus sparseness per CE: \[([\d.]+, ){7}[\d.]+\]",
    ],
    "own-model": [r"CEs at \(3, 32, 32\)"],
    "logging-and-tracking": [r"batch 1 of 1: \d+ of 64 valid", r"flow: 2 epochs, loss "],
}
"""What each notebook's last cell prints (the example scripts' own checks)."""


@pytest.mark.slow
def test_the_notebooks_run_without_a_warning(tmp_path) -> None:
    """Every tutorial's code, as its notebook, with tiny epochs; the MNIST ones in one folder
    (they fit the same tiny run: only the first fits it)."""
    shared = tmp_path / "mnist"
    shared.mkdir()
    assert set(PRINTED) == set(TUTORIALS)
    for name in sorted(TUTORIALS):
        out = tmp_path / name if name == "own-model" else shared
        out.mkdir(exist_ok=True)
        nb = run_notebook(name, out)
        assert not [o for o in nb.cells[1].outputs if o.output_type == "execute_result"]
        for cell in nb.cells:  # third-party imports may warn (captum's tqdm.auto); ours never
            ours = [x for x in printed(cell, "stderr").splitlines() if "leapfactual" in x]
            assert not [x for x in ours if "Warning" in x], (name, ours)
        for pattern in PRINTED[name]:
            assert re.search(pattern, printed(nb.cells[-1])), (name, pattern)
        if name == "demo":  # the function returns the Explanation: the notebook shows it
            (shown,) = [o for o in nb.cells[-1].outputs if o.output_type == "execute_result"]
            assert "<table" in shown.data["text/html"]
    assert (shared / "report.html").is_file()
    assert (shared / "explanation" / "explanation.json").is_file()
    assert json.loads((shared / "audit" / "summary.json").read_text())["pairs"]
    assert (tmp_path / "own-model" / "explained" / "report.html").is_file()
