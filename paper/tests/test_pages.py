"""The paper's pages are the library's skeleton stamped with the git commit of their code."""

import subprocess
from pathlib import Path

import pytest

from leapfactual.report import NOTE
from paper.bench import Table
from paper.pages import code_version, page_outputs, rerender_table, write_page


def test_a_page_names_its_code_by_commit(tmp_path) -> None:
    page = write_page(tmp_path / "p.md", "A title", "python -m paper x", "data", 6.0)
    lines = page.read_text().splitlines()
    assert lines[:3] == ["# A title", "", NOTE]
    assert lines[-1] == f"- Code: {code_version(results=page_outputs(page))}."
    assert code_version().startswith(("commit ", "leapfactual "))


def test_the_code_is_named_by_its_commit(tmp_path) -> None:
    assert code_version().startswith(("commit ", "leapfactual "))
    assert code_version(tmp_path).endswith("(not a git checkout)")

    def git(*args: str) -> str:
        quiet = ("-c", "user.name=t", "-c", "user.email=t@example.org")
        done = subprocess.run(["git", *quiet, *args], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one")
    git("add", "a.txt")
    git("commit", "-q", "-m", "first")
    short = git("rev-parse", "--short", "HEAD")
    assert code_version(tmp_path) == f"commit {short}"
    (tmp_path / "new.txt").write_text("untracked files do not count")
    assert code_version(tmp_path) == f"commit {short}"
    (tmp_path / "a.txt").write_text("two")
    assert code_version(tmp_path) == f"commit {short} with uncommitted changes"


def test_a_pages_own_output_does_not_count_as_changed_code(tmp_path) -> None:
    def git(*args: str) -> None:
        quiet = ("-c", "user.name=t", "-c", "user.email=t@example.org")
        done = subprocess.run(["git", *quiet, *args], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    git("init", "-q")
    for name in ("page.md", "page.png", "code.py"):
        (tmp_path / name).write_text("one")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    (tmp_path / "page.png").write_text("a new figure, written before the page")
    own = page_outputs(tmp_path / "page.md")
    assert sorted(p.name for p in own) == ["page.md", "page.png"]
    assert code_version(tmp_path).endswith("with uncommitted changes")
    assert "uncommitted" not in code_version(tmp_path, own)
    (tmp_path / "code.py").write_text("two")
    assert code_version(tmp_path, own).endswith("with uncommitted changes")


ROOT = Path(__file__).resolve().parents[2]


def stored_page(tmp_path: Path) -> Path:
    table = Table(["LeapFactual", "Opt-based"])
    table.set("validity (|f(x') − t| ≤ tol)", "LeapFactual", 0.984)
    table.set("validity (|f(x') − t| ≤ tol)", "Opt-based", 1.0)
    table.set("L1 to true CE", "LeapFactual", (0.035, 0.002))
    (tmp_path / "r.csv").write_text(table.to_csv())
    page = tmp_path / "r.md"
    page.write_text(
        "# R\n\nRows: validity.\n\n| | LeapFactual | Opt-based |\n|---|---|---|\n"
        "| validity (|f(x') − t| ≤ tol) | 0.984 | 1.000 |\n| L1 to true CE | 0.035 ± 0.002 | – |\n"
        "![figure](r.png)\n\nAfter.\n"
    )
    return page


def test_a_stored_table_is_rerendered_in_place(tmp_path) -> None:
    page = stored_page(tmp_path)
    assert rerender_table(page) is True
    lines = page.read_text().splitlines()
    assert lines[6] == "| validity (\\|f(x') − t\\| ≤ tol) | 0.984 | 1.000 |"  # escaped now
    assert lines[:6] == [
        "# R",
        "",
        "Rows: validity.",
        "",
        "| | LeapFactual | Opt-based |",
        "|---|---|---|",
    ]
    assert lines[7:] == ["| L1 to true CE | 0.035 ± 0.002 | – |", "![figure](r.png)", "", "After."]
    assert rerender_table(page) is False  # already current: left as it is


def test_a_page_without_its_stored_table_is_refused(tmp_path) -> None:
    page = stored_page(tmp_path)
    (tmp_path / "r.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"r.csv not found: only a page whose run stored"):
        rerender_table(page)
    page = stored_page(tmp_path)
    before = page.read_text()
    page.write_text(before.replace("| | LeapFactual | Opt-based |", "| | LeapFactual |"))
    with pytest.raises(ValueError, match=r"r\.md has no table with the columns of r\.csv"):
        rerender_table(page)


@pytest.mark.parametrize("stem", ["morphomnist", "thickness", "regression"])
def test_committed_pages_show_the_table_their_run_stored(stem: str) -> None:
    """Each page's table is its stored CSV rendered by the current code (`python -m paper
    tables docs/results/STEM.md` brings it there)."""
    page = ROOT / "docs" / "results" / f"{stem}.md"
    stored = Table.from_csv(page.with_suffix(".csv").read_text(encoding="utf-8"))
    assert stored.to_markdown() in page.read_text(encoding="utf-8")
