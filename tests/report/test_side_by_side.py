import torch

from leapfactual.explain import Explanation
from leapfactual.report import build_report
from leapfactual.report.html import render_html
from leapfactual.report.side_by_side import render_side_by_side_page, side_by_side


def diverse(k: int = 3, inputs: int = 2, tolerance: float | None = None) -> Explanation:
    n = k * inputs
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(inputs, 1, 8, 8, generator=gen).repeat_interleave(k, 0)
    if tolerance is None:
        probs = torch.softmax(torch.randn(n, 3, generator=gen), 1)
        target, source = torch.full((n,), 2), probs.argmax(1)
    else:
        probs = torch.rand(n, 1, generator=gen)
        target, source = torch.full((n,), 0.5, dtype=torch.float64), probs[:, 0]
    return Explanation(
        method="leapfactual",
        x=x,
        x_cf=torch.rand(n, 1, 8, 8, generator=gen),
        source=source,
        target=target,
        probs=probs,
        probs_cf=probs.flip(0),
        variant=torch.arange(n) % k,
        tolerance=tolerance,
    )


def test_groups_hold_the_input_then_its_k_ces() -> None:
    exp = diverse()
    groups = side_by_side(exp, ["a", "b", "c"])
    assert [g["index"] for g in groups] == [0, 3]
    assert [f["caption"].split(":")[0] for f in groups[0]["figures"]] == [
        "input",
        "CE 1",
        "CE 2",
        "CE 3",
    ]
    valid = exp.valid.tolist()
    assert [f["valid"] for f in groups[1]["figures"][1:]] == valid[3:6]
    assert groups[0]["title"].endswith("→ c")


def test_the_report_shows_a_diverse_explanation_side_by_side() -> None:
    exp = diverse()
    html = render_html(build_report(exp, ["a", "b", "c"], title="t"))
    assert "The K CEs of each input" in html and html.count('class="sbs') == 2 * 4
    one = diverse(1)
    one.variant = None
    plain = render_html(build_report(one, ["a", "b", "c"], title="t"))
    assert "The K CEs of each input" not in plain


def test_a_regressors_page_names_values() -> None:
    exp = diverse(tolerance=0.2)
    page = render_side_by_side_page(exp, [], "regressor", ["made by a test"])
    assert "validity" in page and "|f(x') − target| ≤ 0.2" in page
    assert "→ 0.50" in page and "f = " in page and page.count("<figure") == 8
