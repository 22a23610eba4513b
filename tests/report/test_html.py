import re

import pytest
import torch

from leapfactual.explain import Cost, Explanation
from leapfactual.explain.targets import all_other_targets
from leapfactual.report import (
    Report,
    build_report,
    render_html,
    source_target_grid,
    write_report,
)

from .browser import probe_images


def fake_explanation(n: int = 3, steps: int = 4, k: int = 4) -> Explanation:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=gen)
    probs = torch.softmax(torch.randn(n, k, generator=gen), 1)
    return Explanation(
        method="leapfactual",
        x=x,
        x_cf=x.flip(-1),
        x_reliable=x.flip(-2),
        source=probs.argmax(1),
        target=(probs.argmax(1) + 1) % k,
        probs=probs,
        probs_cf=probs.roll(1, 1),
        probs_reliable=probs.roll(1, 1),
        steps=torch.full((n,), steps),
        trajectory_images=torch.rand(n, steps + 1, 1, 8, 8, generator=gen),
        trajectory_probs=torch.rand(n, steps + 1, k, generator=gen),
        cost=Cost(n=n, seconds=0.1),
        config={"blend": {"steps": 3}},
    )


def test_page_is_self_contained_and_complete(tmp_path) -> None:
    exp = fake_explanation()
    report = Report(
        "Digits",
        exp,
        ["a", "b", "c", "d"],
        summary=[("data", "x <b>")],
        cards=[("0.95", "CE validity")],
        notes=["made by `a <b>` test"],
    )
    html = render_html(report)
    assert "x &lt;b&gt;" in html  # escaped
    assert "made by <code>a &lt;b&gt;</code> test" in html  # backticks: code, not Markdown
    assert "http://" not in html and "https://" not in html
    # per sample: input, reconstruction, CE, reliable CE, two difference maps, the animated
    # path + 5 strip images; one thumbnail per CE in the list of all CEs (none failed)
    assert html.count("<img") == 3 * (6 + 1 + 5) + 3
    assert html.count("data:image/gif") == 3
    assert "inject 1" in html and "leap 3" in html
    for section in ("summary", "matrix", "failures", "samples", "browse"):
        assert f'id="{section}"' in html
    assert 'id="curves"' not in html  # a Report made by hand has no curves


def test_an_rgb_card_adds_the_colour_change_map() -> None:
    grey = render_html(Report("Grey", fake_explanation(), ["a", "b", "c", "d"]))
    exp = fake_explanation()
    exp.x, exp.x_cf = exp.x.expand(-1, 3, -1, -1), exp.x_cf.expand(-1, 3, -1, -1)
    exp.x_reliable, exp.trajectory_images = None, None
    rgb = render_html(Report("RGB", exp, ["a", "b", "c", "d"]))
    assert "colour change" not in grey and rgb.count(">colour change<") == 3


def test_thumbnails_are_as_high_as_asked() -> None:
    exp = fake_explanation()
    small = render_html(Report("Small", exp, ["a", "b", "c", "d"]))
    large = render_html(Report("Large", exp, ["a", "b", "c", "d"], thumb_size=96))
    assert re.findall(r'height="(\d+)" alt="CE #', small) == ["32"] * 3  # the list of all CEs
    assert re.findall(r'height="(\d+)" alt="CE #', large) == ["96"] * 3
    with pytest.raises(ValueError, match=r"thumbnail size must be a whole number of pixels "):
        build_report(exp, ["a", "b", "c", "d"], "Tiny", thumb_size=4)


def test_grid_places_inputs_on_their_own_class(tmp_path) -> None:
    labels = torch.tensor([0, 2])
    rows, targets = all_other_targets(labels, 3)
    assert targets.tolist() == [1, 2, 0, 1]
    x = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])[rows]
    exp = Explanation(
        "m",
        x,
        x_cf=torch.full_like(x, 0.5),
        source=labels[rows],
        target=targets,
        probs=torch.zeros(4, 3),
        probs_cf=torch.zeros(4, 3),
    )
    grid = source_target_grid(exp, 3)
    assert grid.shape == (2, 3, 1, 2, 2)
    assert grid[0, 0].eq(0).all() and grid[1, 2].eq(1).all()
    assert grid[0, 1].eq(0.5).all() and grid[1, 0].eq(0.5).all()


def test_chromium_decodes_every_image(tmp_path) -> None:
    exp = fake_explanation()
    rows, targets = all_other_targets(exp.source, 4)
    grid_exp = Explanation(
        "m",
        exp.x[rows],
        exp.x[rows].flip(-1),
        exp.source[rows],
        targets,
        exp.probs[rows],
        exp.probs[rows],
    )
    report = Report(
        "Digits",
        exp,
        list("abcd"),
        grid=source_target_grid(grid_exp, 4),
        grid_labels=exp.source.tolist(),
    )
    page = write_report(report, tmp_path / "report.html")
    seen = probe_images(page)
    assert seen["n"] == 3 * 12 + 3 + 3 * 4
    assert seen["decoded"] == seen["n"]
    assert seen["external"] == 0


def test_fit_warnings_stand_next_to_the_validity(tmp_path) -> None:
    from leapfactual.report import build_report

    exp = fake_explanation()
    exp.config["warnings"] = ["the codec loses what the classifier looks at"]
    page = render_html(build_report(exp, ["a", "b", "c", "d"], title="t"))
    cards, warning, summary = (
        page.index('class="cards"'),
        page.index('id="warning-1"'),
        page.index("<h2>Summary</h2>"),
    )
    assert cards < warning < summary
    assert "Warning: the codec loses what the classifier looks at" in page
    assert 'id="warning-1"' not in render_html(build_report(fake_explanation(), "abcd", "t"))


def test_oracle_validity_gets_its_matrix_and_card() -> None:
    from types import SimpleNamespace

    from leapfactual.report import build_report

    exp = fake_explanation(n=4)
    agrees = torch.tensor([True, False, True, True])

    def oracle(x: torch.Tensor) -> torch.Tensor:  # puts CEs 0, 2, 3 in their target
        rows = torch.arange(len(x))
        hit = torch.where(agrees, exp.target, exp.source)
        return torch.nn.functional.one_hot(hit[rows], 4).float() * 10

    run = SimpleNamespace(vae=None, oracle=oracle)
    report = build_report(exp, "abcd", "t", run=run)  # type: ignore[arg-type]
    assert report.oracle_valid is not None and report.oracle_valid.tolist() == agrees.tolist()
    page = render_html(report)
    assert "75.0%" in page and "oracle validity (an independent classifier" in page
    assert page.count("oracle <span") == 4


def test_the_list_of_all_ces_is_capped_with_a_note() -> None:
    exp = fake_explanation(n=7)
    exp.config["inputs"] = [f"/data/in/d{i}.png" for i in range(7)]
    html = render_html(Report("t", exp, "abcd", browse_cap=5))
    assert html.count('<div class="ce') == 5
    assert "5 of 7 CEs (2 not shown, to keep the page small" in html
    assert "#0 (d0.png)" in html and "<br>d4.png</div>" in html
