"""A hand-edited explanation is refused with one error naming what is wrong, never a
traceback from deep inside."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from leapfactual.explain import Explanation
from leapfactual.io import CheckpointError, load_tensors, save_tensors


def _saved(tmp_path: Path) -> Path:
    n = 3
    probs = torch.full((n, 4), 0.25)
    Explanation(
        method="custom",
        x=torch.rand(n, 1, 4, 4),
        x_cf=torch.rand(n, 1, 4, 4),
        source=torch.zeros(n, dtype=torch.long),
        target=torch.ones(n, dtype=torch.long),
        probs=probs,
        probs_cf=probs,
        steps=torch.ones(n, dtype=torch.long),
    ).save(tmp_path)
    return tmp_path / "explanation"


def _tensors(edit: Callable[[dict[str, torch.Tensor]], None]) -> Callable[[Path], None]:
    def apply(stem: Path) -> None:
        tensors, meta = load_tensors(stem)
        edit(tensors)
        keep = {k: v for k, v in meta.items() if k not in ("tensors", "save_id", "sha256")}
        save_tensors(stem, tensors, keep)  # a consistent pair, with other content

    return apply


def _meta(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(stem: Path) -> None:
        sidecar = stem.with_suffix(".json")
        meta = json.loads(sidecar.read_text())
        edit(meta)
        sidecar.write_text(json.dumps(meta))

    return apply


CASES = {
    "extra tensor": (_tensors(lambda t: t.update(foo=torch.ones(3))), r"unknown tensors \['foo'\]"),
    "missing tensor": (_tensors(lambda t: t.pop("probs_cf")), r"missing tensors \['probs_cf'\]"),
    "rows": (_tensors(lambda t: t.update(steps=torch.ones(5))), "different numbers of rows"),
    "class": (_tensors(lambda t: t.update(target=torch.full((3,), 7))), r"target has classes"),
    "float class": (_tensors(lambda t: t.update(source=torch.zeros(3))), "source must be a 1-D"),
    "no method": (_meta(lambda m: m.pop("method")), "no 'method' name"),
    "cost key": (_meta(lambda m: m["cost"].update(gpus=1)), "'cost' must be an object with keys"),
    "cost type": (_meta(lambda m: m["cost"].update(n="3")), "'cost' counters must be numbers"),
    "config": (_meta(lambda m: m.update(config=[])), "'config' must be an object"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_edited_explanation_is_named(tmp_path: Path, case: str) -> None:
    edit, says = CASES[case]
    edit(_saved(tmp_path))
    with pytest.raises(
        CheckpointError, match=rf"explanation\.json is not a valid explanation .*{says}"
    ):
        Explanation.load(tmp_path)


def test_an_untouched_explanation_loads(tmp_path: Path) -> None:
    _saved(tmp_path)
    assert len(Explanation.load(tmp_path)) == 3
