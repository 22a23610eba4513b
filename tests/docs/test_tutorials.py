"""The tutorials: their Python is their example script's (the scripts run as notebooks,
tests/docs/test_notebooks.py), and every option their command lines use exists."""

from __future__ import annotations

import re
import runpy
import shlex
import textwrap
from pathlib import Path

import pytest
import typer

from leapfactual.cli.app import app
from paper.cli.app import app as paper_app

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TUTORIALS: dict[str, str] = runpy.run_path(str(DOCS / "make_notebooks.py"))["TUTORIALS"]
EXAMPLES = {name: script for name, script in TUTORIALS.items() if name != "own-model"}
"""Tutorial page -> its script in examples/ (own-model's page shows only lines of its script:
tests/docs/test_own_model_tutorial.py)."""


def blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_python_shown_is_a_piece_of_the_example(name: str) -> None:
    example = (ROOT / "examples" / EXAMPLES[name]).read_text(encoding="utf-8")
    (shown,) = blocks(DOCS / "tutorials" / f"{name}.md", "python")
    # The page's block is formatted at top level: two blank lines around a def there.
    shown = re.sub(r"\n{3,}", "\n\n", shown)
    assert textwrap.indent(shown, "    ") in example, f"not in examples/{EXAMPLES[name]}"


def command_lines(program: str = "leapfactual") -> list[tuple[str, str]]:
    """(page, line) of every bash line that runs ``program`` (the leapfactual command, also
    as ``torchrun ... -m leapfactual``; or ``python -m paper``), on every page and in the
    README."""
    lines = []
    pattern = r"(^|-m )leapfactual\s" if program == "leapfactual" else r"-m paper\s"
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for block in blocks(page, "bash"):
            for line in block.replace("\\\n", " ").splitlines():
                if re.search(pattern, line.split("#")[0].strip()):
                    lines.append((str(page.relative_to(ROOT)), line.split("  #")[0]))
    return lines


@pytest.mark.parametrize(
    ("program", "typer_app", "least"), [("leapfactual", app, 20), ("paper", paper_app, 8)]
)
def test_every_option_on_the_pages_exists(program: str, typer_app: typer.Typer, least: int) -> None:
    root = typer.main.get_command(typer_app)
    commands = root.commands  # type: ignore[attr-defined]
    unknown = []
    for page, line in command_lines(program):
        args = shlex.split(line)
        rest = args[args.index(program) + 1 :]
        name = next((a for a in rest if not a.startswith("-")), None)
        if name is None:
            continue  # leapfactual --version
        if name not in commands:
            unknown.append(f"{page}: no command {name!r} in: {line}")
            continue
        options = {o for p in commands[name].params for o in (*p.opts, *p.secondary_opts)}
        unknown += [
            f"{page}: {name} has no option {a}"
            for a in rest
            if a.startswith("--") and a.split("=")[0] not in options | {"--help"}
        ]
    assert len(command_lines(program)) >= least
    assert unknown == []
