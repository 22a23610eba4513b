import json

import pytest

from leapfactual.pipeline import ClassifierSettings, FitSettings, FlowSettings, VAESettings
from leapfactual.report import NOTE
from paper.experiments.improvement import (
    STRONG,
    WEAK,
    ImproveConfig,
    ImproveResult,
    run_improvement,
    verdicts,
    write_improvement_page,
)

TINY = FitSettings(
    vae=VAESettings(latent_dim=8, width=8, epochs=1, min_steps=0),
    classifier=ClassifierSettings(width=8, epochs=2, min_steps=0),
    flow=FlowSettings(epochs=2, min_steps=0),
)


def test_reduced_improvement_retrains_and_writes_page(tmp_path) -> None:
    cfg = ImproveConfig(
        data="mnist5k",
        seeds=(0,),
        n_train=300,
        n_test=200,
        fractions=(0.0, 0.1),
        oracle_filter=True,
        models=TINY,
    )
    result = run_improvement(cfg, device="cpu")
    settings = result.settings()
    assert settings[:2] == [WEAK, STRONG]
    assert {"CE 10%", "reliable CE 10%", "CE, oracle-agreed 10%"} <= set(settings)
    # 10 % of all 9 x 60 CEs of the weak set
    assert result.values("CE 10%", "added") == [54] and result.num_classes == 10
    assert all(a <= 54 for a in result.values("CE, oracle-agreed 10%", "added"))
    assert result.values("CE 0%", "accuracy") == result.values(WEAK, "accuracy")
    for row in result.rows:
        assert 0 <= row["accuracy"] <= 1
    assert not list(tmp_path.iterdir())  # computing writes nothing
    page = write_improvement_page(result, tmp_path / "imp", "leapfactual improve --out x")
    text = page.read_text()
    title = "# Model improvement with counterfactuals"
    assert text.startswith(f"{title}\n\n{NOTE}\n\n- Command: `leapfactual improve --out x`")
    assert "## Where the paper's claim holds" in text and "round(f × 9 × |weak set|)" in text
    assert f"{result.mean('reliable CE 10%', 'accuracy'):.3f}" in text
    assert (tmp_path / "imp.png").read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads((tmp_path / "imp.json").read_text())["rows"]) == len(result.rows)


def test_verdicts_follow_the_numbers() -> None:
    rows = [
        {
            "seed": s,
            "setting": name,
            "kind": kind,
            "fraction": f,
            "added": 0,
            "accuracy": acc,
            "auroc": 0.9,
            "ce_validity": {},
        }
        for s in (0, 1)
        for name, kind, f, acc in (
            (WEAK, "baseline", 0.0, 0.5),
            (STRONG, "baseline", 0.0, 0.9),
            ("CE 10%", "CE", 0.1, 0.6),
            ("reliable CE 10%", "reliable CE", 0.1, 0.55),
        )
    ]
    text = verdicts(ImproveResult(ImproveConfig(data="mnist5k"), rows, 1.0, 100, 10, 10))
    assert len(text) == 1 and "the claim does not hold" in text[0]
    assert "0.550 against 0.600" in text[0] and "higher in 0 of 2 seeds" in text[0]


def test_configuration_checks_and_galaxy10_preset() -> None:
    with pytest.raises(ValueError, match="fractions"):
        ImproveConfig(data="mnist5k", fractions=(1.5,))
    g = ImproveConfig.galaxy10("/data/Galaxy10_DECals.h5", seeds=(0,))
    assert g.data == "galaxy10:/data/Galaxy10_DECals.h5" and 0.1 in g.fractions
    assert g.inject.gamma_land == pytest.approx(1.025) and g.seeds == (0,)
    assert g.models.vae.latent_dim == 64 and g.models.flow.epochs == 500
    # the paper's Galaxy10 flow: hard one-hot conditions, lr x0.1 from epoch 400
    assert g.models.flow.condition == "onehot" and g.models.flow.lr_milestones == (400,)
