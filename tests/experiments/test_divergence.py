import pytest

from leapfactual.experiments._shared import parse_seeds
from leapfactual.experiments.divergence import DivergenceConfig, run_divergence, summarise
from leapfactual.pipeline import FitConfig

TINY = FitConfig(
    latent_dim=8,
    vae_width=8,
    vae_epochs=1,
    classifier_width=8,
    classifier_epochs=3,
    flow_epochs=2,
    cvae_epochs=1,
)


def test_reduced_divergence_scores_every_column_and_writes_page(tmp_path) -> None:
    cfg = DivergenceConfig(
        seeds=(0,),
        n_explain=8,
        n_train=300,
        methods=("leapfactual", "attack"),
        attack_steps=5,
        models=TINY,
    )
    result = run_divergence(cfg, tmp_path / "out", tmp_path / "div.md", "leapfactual divergence")
    cols = [r["column"] for r in result.rows]
    assert cols == ["LeapFactual", "LeapFactual reliable", "Latent attack", "Latent attack τ=0.99"]
    for row in result.rows:
        assert 0 <= row["validity_model"] <= 1 and 0 <= row["validity_truth"] <= 1
        assert row["gap"] == pytest.approx(row["validity_model"] - row["validity_truth"])
    page = (tmp_path / "div.md").read_text()
    assert "`leapfactual divergence`" in page
    for row in result.rows:  # every number on the page comes from the result
        assert f"| {row['column']} | {row['validity_model']:.3f} ± 0.000 |" in page
    assert "## The claim" in page and "validity under the truth is" in page
    assert (tmp_path / "div.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "results.json").exists()


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
    with pytest.raises(ValueError, match="unknown methods"):
        DivergenceConfig(methods=("leapfactual", "magic"))
    with pytest.raises(ValueError, match="no repeats"):
        parse_seeds("1,1")
