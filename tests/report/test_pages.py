from leapfactual import __version__
from leapfactual.report.pages import NOTE, machine, render_page, write_page


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
        f"- Code: leapfactual {__version__}.",
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
    assert text.endswith(f"total 0.1 min.\n- Code: leapfactual {__version__}.\n")
    assert text.count("- ") == 4 and "torch threads" in machine()
    stamped = render_page("T", "c", "d", 6.0, code="commit abc1234")
    assert stamped.endswith("- Code: commit abc1234.\n")
