"""Write docs/notebooks/NAME.ipynb from each tutorial's example script (one source of truth).

    python docs/make_notebooks.py          # rewrite the notebooks
    python docs/make_notebooks.py --check  # exit 1 if a notebook differs from its script

A notebook holds, in order: the tutorial's title and first paragraph, the script's imports and
constants, a cell of parameters (tagged ``parameters``: the script's command-line options with
their defaults), one cell per function of the script (its docstring above it), and the
script's ``main`` body as the last cell, so the function's result is shown by the notebook.
The test suite (tests/docs/test_notebooks.py) checks the notebooks are up to date and runs
them with tiny epochs.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import textwrap
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
NOTEBOOKS = DOCS / "notebooks"
TUTORIALS = {
    "demo": "demo.py",
    "own-model": "own_model.py",
    "audit": "audit_model.py",
    "attribution-metrics": "attribution_metrics.py",
    "scale-out": "scale_out.py",
    "logging-and-tracking": "tracking.py",
}
"""Tutorial page (docs/tutorials/NAME.md) -> its script in examples/."""


def _cell(kind: str, source: str, tags: tuple[str, ...] = ()) -> dict[str, object]:
    lines = source.strip("\n").splitlines(keepends=True)
    cell: dict[str, object] = {"cell_type": kind, "metadata": {"tags": list(tags)} if tags else {}}
    cell["source"] = lines
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _intro(page: Path, script: str) -> str:
    """The page's title and first paragraph, and where the notebook comes from."""
    text = page.read_text(encoding="utf-8")
    title = text.splitlines()[0]
    body = text.split("\n\n")[1].strip()
    body = re.sub(r"\]\((?!https?:)([^)#]*)", lambda m: f"]({_page_link(m.group(1))}", body)
    return (
        f"{title}\n\n{body}\n\n"
        f"This notebook is generated from `examples/{script}` (`python docs/make_notebooks.py`); "
        f"the page [docs/tutorials/{page.name}](../tutorials/{page.name}) explains each step. "
        "Set `quick = True` below for tiny epochs (the code path in seconds)."
    )


def _page_link(target: str) -> str:
    """A link of a tutorial page, seen from docs/notebooks/."""
    return target if target.startswith("../") else f"../tutorials/{target}"


def _parameters(main: ast.FunctionDef, source: str) -> str:
    """``name = default`` for each ``parser.add_argument`` of the script's ``main``."""
    lines = []
    for call in ast.walk(main):
        if not (isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "add_argument"):
            continue
        flag = ast.literal_eval(call.args[0])
        name = flag.lstrip("-").replace("-", "_")
        keywords = {k.arg: k.value for k in call.keywords}
        helptext = ast.literal_eval(keywords["help"]) if "help" in keywords else ""
        if "default" in keywords:
            value = ast.get_source_segment(source, keywords["default"]) or ""
        else:
            value = "False" if ast.unparse(keywords.get("action", ast.Constant(""))) else "None"
        comment = f"  # {helptext}" if helptext else ""
        lines.append(f"{name} = {value}{comment}")
    return "\n".join(lines)


def _last_cell(main: ast.FunctionDef, source: str) -> str:
    """``main``'s body after the arguments are parsed, with ``args.x`` read as ``x``."""
    start = next(i for i, s in enumerate(main.body) if "parse_args" in ast.unparse(s)) + 1
    lines = source.splitlines()[main.body[start].lineno - 1 : main.body[-1].end_lineno]
    return re.sub(r"\bargs\.(\w+)", r"\1", textwrap.dedent("\n".join(lines)))


def notebook(name: str, script: str) -> dict[str, object]:
    """The notebook of tutorial ``name`` from ``examples/script``."""
    path = ROOT / "examples" / script
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    main = next(f for f in functions if f.name == "main")
    first = functions[0].lineno - 1 - len(functions[0].decorator_list)
    preamble = "\n".join(source.splitlines()[:first])
    preamble = preamble[ast.get_docstring(tree) and preamble.index('"""', 3) + 3 :]
    preamble = re.sub(r'^"""(.*?)"""$', lambda m: "# " + m.group(1), preamble, flags=re.M | re.S)
    preamble = re.sub(
        r"^(from __future__ import annotations|import argparse)\n", "", preamble, flags=re.M
    )
    cells = [
        _cell("markdown", _intro(DOCS / "tutorials" / f"{name}.md", script)),
        _cell("code", preamble),
        _cell("code", _parameters(main, source), tags=("parameters",)),
    ]
    for function in functions:
        if function is main:
            continue
        doc = ast.get_docstring(function) or function.name
        cells.append(_cell("markdown", f"### `{function.name}`\n\n{doc}"))
        cells.append(_cell("code", ast.get_source_segment(source, function) or ""))
    cells.append(_cell("code", _last_cell(main, source)))
    for i, cell in enumerate(cells):
        cell["id"] = f"{name}-{i}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def text(nb: dict[str, object]) -> str:
    """The notebook file's text (stable: sorted keys, one space indent, final newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    check = parser.parse_args().check
    stale = []
    NOTEBOOKS.mkdir(exist_ok=True)
    for name, script in TUTORIALS.items():
        path = NOTEBOOKS / f"{name}.ipynb"
        new = text(notebook(name, script))
        if not path.is_file() or path.read_text(encoding="utf-8") != new:
            stale.append(path.name)
            if not check:
                path.write_text(new, encoding="utf-8")
    verb = "stale" if check else "written"
    print(f"{verb}: {', '.join(stale) or 'none'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
