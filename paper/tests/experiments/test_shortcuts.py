import json
import math

import torch

from leapfactual.audit import CFKDSettings, Necessity
from leapfactual.pipeline import ClassifierSettings, FitConfig, FlowSettings, VAESettings
from leapfactual.report import NOTE
from paper.experiments.shortcuts import (
    CEILING,
    CONFOUNDED,
    PLAIN,
    RULE,
    SETTINGS,
    ShortcutsConfig,
    ShortcutsResult,
    nuisance_cell_rank,
    nuisance_first,
    run_shortcuts,
    verdicts,
    write_shortcuts_page,
)

TINY = FitConfig(
    vae=VAESettings(latent_dim=8, width=8, epochs=1, min_steps=0),
    classifier=ClassifierSettings(width=8, epochs=2, min_steps=0),
    flow=FlowSettings(epochs=2, min_steps=0),
)
CFG = ShortcutsConfig(
    seeds=(0,),
    imbalances=(1.0,),
    n_base=400,
    audit_limit=3,
    cfkd=CFKDSettings(rounds=1, per_round=16, epochs=1),
    models=TINY,
    oracle=ClassifierSettings(width=8, epochs=1, min_steps=0),
)
KEYS = ("accuracy", "auroc", "worst_class", "accuracy_absent", "flip", "pulled")


def test_reduced_benchmark_rows_resume_and_page(tmp_path) -> None:
    logs: list[str] = []
    result = run_shortcuts(CFG, log=logs.append, device="cpu", parts=tmp_path / "parts")
    assert [r["setting"] for r in result.rows] == list(SETTINGS)
    for row in result.rows:
        assert row["variant"] == "balanced" and row["seed"] == 0
        assert all(0.0 <= row[k] <= 1.0 for k in KEYS), row
        assert math.isnan(row["audit_first"]) or 0.0 <= row["audit_first"] <= 1.0
        assert row["labels"] <= row["added"] or row["setting"] == PLAIN
    by = {r["setting"]: r for r in result.rows}
    assert by[CONFOUNDED]["labels"] == by[CEILING]["labels"] == by[PLAIN]["labels"] == 0
    assert by[RULE]["history"][0]["round"] == 0 and "losses" not in by[RULE]["history"][0]
    assert set(result.maps) == {f"balanced: {m}, {d}" for m in (CONFOUNDED, CEILING)
                                for d in ("toward", "from")}  # fmt: skip
    again = run_shortcuts(CFG, log=logs.append, device="cpu", parts=tmp_path / "parts")
    assert any("already done" in line for line in logs)
    assert json.dumps(again.rows, default=str) == json.dumps(result.rows, default=str)
    page = write_shortcuts_page(result, tmp_path / "sc", "leapfactual shortcuts --out x")
    text = page.read_text()
    title = "# Shortcuts: auditing and repairing a confounded classifier"
    assert text.startswith(f"{title}\n\n{NOTE}\n\n- Command: `leapfactual shortcuts --out x`")
    assert "## balanced" in text and "## What the numbers say" in text
    assert "exercised only in the tests" in text
    assert f"{by[RULE]['worst_class']:.3f} ± 0.000" in text
    assert (tmp_path / "sc.png").read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads((tmp_path / "sc.json").read_text())["rows"]) == len(SETTINGS)


def _necessity(drops: list[list[float]]) -> Necessity:
    """Two regions per CE: 1 the top-left patch, 2 a block in the middle."""
    b = len(drops)
    regions = torch.zeros(b, 28, 28, dtype=torch.long)
    regions[:, 1:6, 1:6] = 1
    regions[:, 10:20, 10:20] = 2
    zeros = torch.zeros(b)
    return Necessity(
        regions=regions, count=torch.full((b,), 2), drop=torch.tensor(drops),
        minimal=torch.ones(b, 2, dtype=torch.bool), minimal_valid=torch.ones(b, dtype=torch.bool),
        curve=torch.zeros(b, 3), curve_source=torch.zeros(b, 3), cout=zeros, p_cf=zeros,
        source=zeros.long(), target=zeros.long(), edit_params=torch.zeros(b, 3),
        edit_counts=torch.zeros(b, 0, dtype=torch.bool), edit_drop=torch.zeros(b, 0),
        minimal_edits=torch.zeros(b, 0, dtype=torch.bool),
    )  # fmt: skip


def test_nuisance_first_and_the_cell_ranking() -> None:
    nec = _necessity([[0.8, 0.3], [0.1, 0.9], [0.7, 0.2]])
    mask = torch.zeros(3, 1, 28, 28, dtype=torch.bool)
    mask[:, :, 1:6, 1:6] = True
    assert nuisance_first(nec, mask).tolist() == [True, False, True]
    everyone = torch.ones(3, dtype=torch.bool)
    assert nuisance_cell_rank(nec, mask[:1, 0], everyone) == 1
    assert nuisance_cell_rank(nec, mask[:1, 0], torch.tensor([False, True, False])) == 2


def test_verdicts_follow_the_numbers() -> None:
    rows = []
    for setting, flip, worst, first, rank in (
        (CONFOUNDED, 0.8, 0.4, 0.7, 1), (RULE, 0.1, 0.8, 0.1, 3), (PLAIN, 0.9, 0.4, 0.7, 1),
        ("CFKD, model teacher", 0.3, 0.7, 0.2, 2), (CEILING, 0.01, 0.9, 0.0, 5),
    ):  # fmt: skip
        rows.append({"variant": "balanced", "setting": setting, "flip": flip,
                     "worst_class": worst, "labels": 10, "audit_first": first,
                     "audit_rank": rank})  # fmt: skip
    text = "\n".join(verdicts(ShortcutsResult(CFG, rows, 1.0, {})))
    assert f"{RULE}: reduces the reliance (0.800 -> 0.100 flips)" in text
    assert f"{PLAIN}: does not reduce the reliance" in text
    assert "in 70% of the confounded model's" in text and "tells them apart" in text
