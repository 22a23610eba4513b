"""The paper's pages are the library's skeleton stamped with the git commit of their code."""

import subprocess

from leapfactual.report import NOTE
from paper.pages import code_version, page_outputs, write_page


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
