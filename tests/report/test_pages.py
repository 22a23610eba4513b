import subprocess

from leapfactual.report.pages import (
    NOTE,
    code_version,
    machine,
    page_outputs,
    render_page,
    write_page,
)


def test_every_page_starts_with_the_same_header(tmp_path) -> None:
    page = write_page(
        tmp_path / "deep" / "p.md",
        "A title",
        "leapfactual x --out p",
        "`mnist5k`, 10 images",
        90.0,
        ["Seeds: 0, 1."],
        [(None, ["| a |", "|---|"]), ("Verdict", ["- holds"])],
    )
    assert page.read_text().splitlines() == [
        "# A title",
        "",
        NOTE,
        "",
        "- Command: `leapfactual x --out p`",
        "- Data: `mnist5k`, 10 images",
        "- Seeds: 0, 1.",
        f"- Machine: {machine()}; total 1.5 min.",
        f"- Code: {code_version()}.",
        "",
        "| a |",
        "|---|",
        "",
        "## Verdict",
        "",
        "- holds",
    ]
    assert page.read_text().endswith("- holds\n")


def test_a_page_without_sections_is_only_the_header() -> None:
    text = render_page("T", "c", "d", 6.0)
    assert text.endswith(f"total 0.1 min.\n- Code: {code_version()}.\n") and text.count("- ") == 4
    assert "torch threads" in machine()


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
