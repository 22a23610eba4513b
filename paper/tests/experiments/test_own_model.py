"""The own-model measurement end to end on tiny settings (the page's command is
``python -m paper own-model``)."""

from dataclasses import replace

import pytest
import torch

from leapfactual.testing import UserCNN
from paper.experiments.own_model import (
    OWN_MODEL_FLOW,
    OwnModelConfig,
    run_own_model,
    table_rows,
    write_own_model_page,
)


def test_measures_each_size_and_the_paper_flow_next_to_it(tmp_path) -> None:
    cfg = OwnModelConfig(
        sizes=(16,),
        n_images=80,
        n_user=80,
        limit=8,
        user_epochs=1,
        accept_chance=True,  # a one-epoch classifier is near chance
        vae_epochs=1,
        vae_min_steps=0,
        latent_dim=8,
        flow=replace(OWN_MODEL_FLOW, width=16, depth=2, epochs=2, min_steps=0),
    )
    result = run_own_model(tmp_path / "work", cfg)
    (row,) = result.rows
    assert row.size == 16 and 0 <= row.validity <= 1
    assert 0 <= row.summary["flow_sample_accuracy"] <= 1
    assert set(row.paper_flow) == {"flow samples in class", "validity", "oracle validity"}
    assert all(0 <= v <= 1 for v in row.paper_flow.values())
    (table,) = table_rows(result)
    assert table["flow samples in class"] == row.summary["flow_sample_accuracy"]
    page = write_own_model_page(result, tmp_path / "page", "python -m paper own-model").read_text()
    assert "## The flow matters" in page
    sections = [line for line in page.splitlines() if line.startswith("## ")]
    assert sections[:2] == ["## What limits these results", "## Results"]  # limits first
    assert (
        f"- Run verdicts (the library's checks of each run's codec, classifier, flow and "
        f"training): 16 px {row.verdict}." in page
    )
    assert row.verdict.split(" ")[0] in ("trusted", "caution", "untrusted", "unknown")
    assert row.fit_cpu_seconds > 0 and all(v >= 0 for v in row.load)
    assert (  # the size, then whether the CEs work and what they cost, the codec's scores after
        "| images | validity | validity, reliable CE | oracle validity | oracle validity, "
        "reliable CE | seconds per CE | VAE works at |"
    ) in page
    assert "| 16x16 RGB | paper's MNIST flow |" in page and "| 16x16 RGB | above |" in page
    assert (tmp_path / "page.png").is_file()


@pytest.mark.parametrize(("size", "side"), [(16, 4), (32, 8), (48, 6), (64, 8), (128, 8)])
def test_user_cnn_grows_with_the_image_to_a_last_map_of_8_px_or_less(size, side) -> None:
    features = UserCNN(4, width=4, size=size).features(torch.zeros(1, 3, size, size))
    assert features.shape[-1] == side
