"""Explanation in a notebook: short repr, HTML view, slicing, devices and the summary."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import torch

from leapfactual.explain.explanation import Cost, Explanation


def _explanation(n: int = 6, reliable: bool = True) -> Explanation:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=g)
    probs = torch.softmax(torch.randn(n, 3, generator=g), 1)
    probs_cf = torch.softmax(torch.randn(n, 3, generator=g) * 4, 1)
    return Explanation(
        method="leapfactual",
        x=x,
        x_cf=(x + 0.1).clamp(0, 1),
        source=probs.argmax(1),
        target=torch.arange(n) % 3,
        probs=probs,
        probs_cf=probs_cf,
        z=torch.randn(n, 4, generator=g),
        z_cf=torch.randn(n, 4, generator=g),
        x_reliable=x.flip(-1) if reliable else None,
        probs_reliable=probs_cf.flip(1) if reliable else None,
        steps=torch.arange(n) + 1,
        trajectory=torch.randn(n, 5, 4, generator=g),
        cost=Cost(n=n, decoder=20 * n, classifier=20 * n, field=560 * n, seconds=0.06 * n),
        config={"inputs": [f"img{i}.png" for i in range(n)], "blend": {"steps": 4}},
    )


def test_repr_is_short_and_holds_the_headline_numbers() -> None:
    exp = _explanation(72)
    text = repr(exp)
    assert len(text) < 300 and "\n" not in text
    assert "72 CEs" in text and f"validity {exp.valid.float().mean():.3f}" in text
    assert "x [72, 1, 8, 8]" in text and "560 field per CE" in text and "60 ms per CE" in text


def test_html_view_has_numbers_and_one_image() -> None:
    pytest.importorskip("PIL")
    page = _explanation()._repr_html_()
    assert page.count("<img") == 1 and "data:image/png;base64," in page
    assert "validity" in page and "leapfactual" in page
    assert len(re.findall("&#10003;|&#10007;", page)) == 6


class _Rows(HTMLParser):
    """The rows of an HTML page's tables: the text of each cell."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.in_cell = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
            self.in_cell = True

    def handle_endtag(self, tag: str) -> None:
        self.in_cell = self.in_cell and tag not in ("td", "th")

    def handle_data(self, data: str) -> None:
        if self.in_cell:
            self.rows[-1][-1] += data


def summary_rows(page: str) -> list[list[str]]:
    parser = _Rows()
    parser.feed(page)
    return parser.rows


def test_html_view_lists_the_numbers_one_per_row_to_fit_a_cell() -> None:
    pytest.importorskip("PIL")
    exp = _explanation()
    rows = summary_rows(exp._repr_html_())
    assert [row[0] for row in rows] == list(exp.summary())
    assert all(len(row) == 2 for row in rows)  # a key and its value: two narrow columns
    assert max(len("".join(row)) for row in rows) < 40
    assert 'style="max-width:100%"' in exp._repr_html_()  # wide images shrink to the cell
    assert len(summary_rows("<table><tr><td>a</td><td>1</td><td>b</td></tr></table>")[0]) == 3


def test_slicing_by_int_slice_indices_and_mask() -> None:
    exp = _explanation(6)
    one = exp[2]
    assert len(one) == 1 and torch.equal(one.x_cf, exp.x_cf[2:3])
    assert one.config["inputs"] == ["img2.png"] and exp.config["inputs"][2] == "img2.png"
    assert torch.equal(exp[1:4].trajectory, exp.trajectory[1:4])  # type: ignore[arg-type]
    picked = exp[[5, 0]]
    assert torch.equal(picked.target, exp.target[[5, 0]])
    assert picked.config["inputs"] == ["img5.png", "img0.png"]
    valid = exp[exp.valid]
    assert len(valid) == int(exp.valid.sum()) and bool(valid.valid.all())
    assert torch.equal(exp[-1].x, exp.x[-1:])


def test_slices_keep_the_cost_per_ce() -> None:
    exp = _explanation(6)
    part = exp[:3]
    assert part.cost.n == 3 and part.cost.field == 3 * 560
    assert part.cost.per_ce() == pytest.approx(exp.cost.per_ce())
    assert exp.cost.n == 6  # the original is untouched


def test_float_index_is_refused() -> None:
    with pytest.raises(TypeError, match="bool mask"):
        _explanation()[torch.tensor([0.5])]


def test_to_moves_every_tensor_and_keeps_the_rest() -> None:
    exp = _explanation()
    moved = exp.to("meta")
    assert all(t.device.type == "meta" for t in moved.tensors().values())
    assert moved.method == exp.method and moved.config == exp.config
    assert exp.x.device.type == "cpu"


def test_summary_numbers() -> None:
    exp = _explanation(6)
    numbers = exp.summary()
    assert numbers["n"] == 6 and numbers["validity"] == pytest.approx(
        float(exp.valid.float().mean())
    )
    assert numbers["validity_reliable"] == pytest.approx(float(exp.valid_reliable.float().mean()))  # type: ignore[union-attr]
    expected = exp.probs_cf[torch.arange(6), exp.target].mean()
    assert numbers["target_probability"] == pytest.approx(float(expected))
    assert numbers["l1_to_input"] == pytest.approx(float((exp.x_cf - exp.x).abs().mean()))
    assert numbers["steps"] == pytest.approx(3.5) and numbers["field_per_ce"] == 560
    assert "validity_reliable" not in _explanation(reliable=False).summary()
