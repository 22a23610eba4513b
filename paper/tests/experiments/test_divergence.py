import json

import pytest

from leapfactual.explain import LeapFactual
from leapfactual.pipeline import ClassifierSettings, FitSettings, FlowSettings, VAESettings
from leapfactual.report import NOTE
from paper.experiments.divergence import (
    DivergenceConfig,
    run_divergence,
    summarise,
    write_divergence_page,
)

TINY = FitSettings(
    vae=VAESettings(latent_dim=8, width=8, epochs=1, min_steps=0),
    classifier=ClassifierSettings(width=8, epochs=3, min_steps=0),
    flow=FlowSettings(epochs=2, min_steps=0),
    cvae=VAESettings(latent_dim=8, width=8, epochs=1, min_steps=0),
)


def test_reduced_divergence_scores_every_column_and_writes_page(tmp_path, monkeypatch) -> None:
    calls = []
    explain = LeapFactual.explain
    monkeypatch.setattr(
        LeapFactual, "explain", lambda self, *a: calls.append(1) or explain(self, *a)
    )
    cfg = DivergenceConfig(
        seeds=(0,),
        limit=8,
        n_train=300,
        methods=("leapfactual", "latent_attack"),
        attack_steps=5,
        models=TINY,
    )
    result = run_divergence(cfg, device="cpu")
    assert len(calls) == 1  # LeapFactual's two columns share one explanation
    cols = [r["column"] for r in result.rows]
    assert cols == ["LeapFactual", "LeapFactual reliable", "Latent attack", "Latent attack τ=0.99"]
    for row in result.rows:
        assert 0 <= row["validity_model"] <= 1 and 0 <= row["validity_truth"] <= 1
        assert row["gap"] == pytest.approx(row["validity_model"] - row["validity_truth"])
    assert not list(tmp_path.iterdir())  # computing writes nothing
    page = write_divergence_page(result, tmp_path / "div", "leapfactual divergence --out x")
    text = page.read_text()
    assert page == tmp_path / "div.md"
    assert text.startswith(f"# Model-truth divergence\n\n{NOTE}\n\n- Command: `leapfactual ")
    for row in result.rows:  # every number on the page comes from the result
        assert f"| {row['column']} | {row['validity_model']:.3f} ± 0.000 |" in text
    assert "## The claim" in text and "validity under the truth is" in text
    assert "![validity under model and truth](div.png)" in text
    assert (tmp_path / "div.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "div.json").read_text())
    assert saved["rows"] == result.rows and saved["config"]["methods"] == list(cfg.methods)


def test_claim_is_counted_per_seed() -> None:
    rows = []
    for seed, (ce, rel) in enumerate([(0.5, 0.7), (0.6, 0.5), (0.4, 0.6)]):
        for column, v in (("LeapFactual", ce), ("LeapFactual reliable", rel)):
            rows.append(
                {
                    "column": column,
                    "seed": seed,
                    "validity_model": 1.0,
                    "validity_truth": v,
                    "gap": 1.0 - v,
                }
            )
    claim = summarise(rows, DivergenceConfig())["claim"]
    assert claim["seeds_where_injection_raises_truth_validity"] == 2 and claim["seeds"] == 3
    assert claim["mean_change"][0] == pytest.approx(0.1)


def test_bad_settings_are_refused() -> None:
    for name in ("magic", "attack"):  # "attack" was this experiment's own name once
        with pytest.raises(ValueError, match=rf"unknown method '{name}'; choose one of"):
            DivergenceConfig(methods=("leapfactual", name))
    with pytest.raises(ValueError, match="no repeats"):
        DivergenceConfig(methods=("opt", "opt"))
