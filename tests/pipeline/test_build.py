"""The builders' batched helpers."""

import pytest
import torch
import toys

from leapfactual.pipeline.build import build_vae, predict_probs
from leapfactual.pipeline.settings import VAESettings


def test_predict_probs_batches() -> None:
    x, _ = toys.toy_points(10)
    probs = predict_probs(toys.quadrant, x, batch=3)
    assert torch.equal(probs.argmax(1), toys.quadrant(x).argmax(1))
    assert torch.allclose(probs.sum(1), torch.ones(10))


def test_the_flow_is_conditioned_on_reconstructions_or_inputs(
    tmp_path, make_tiny_config, monkeypatch
) -> None:
    import pytest

    from leapfactual.pipeline import FlowSettings, build, fit_run, override

    images, recon = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    assert build.condition_images(FlowSettings(), images, recon) is recon
    assert build.condition_images(FlowSettings(condition_on="input"), images, recon) is images
    with pytest.raises(ValueError, match=r"unknown flow\.condition_on 'label'"):
        FlowSettings(condition_on="label")

    seen: list[torch.Tensor] = []
    real = build.predict_probs

    def spy(classifier, shown, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(shown)
        return real(classifier, shown, *args, **kwargs)

    monkeypatch.setattr(build, "predict_probs", spy)
    config = override(make_tiny_config(), {"flow.condition_on": "input", "flow.epochs": 1})
    run = fit_run(tmp_path / "run", config, ("vae", "classifier", "flow"))
    assert any(torch.equal(s, run.train.images) for s in seen)


def test_beta_sets_the_kl_weight_of_either_vae() -> None:
    assert build_vae(VAESettings(kind="conv"), 1, 28).beta == 0.00025
    assert build_vae(VAESettings(kind="resnet", beta=1e-5), 3, 32).beta == 1e-5
    assert build_vae(VAESettings(kind="conv", beta=1e-3), 1, 28).beta == 1e-3


@pytest.mark.parametrize("beta", [float("nan"), float("inf"), -1e-5])
def test_a_bad_kl_weight_is_refused(beta: float) -> None:
    with pytest.raises(ValueError, match=r"vae\.beta must be a finite number >= 0"):
        VAESettings(beta=beta)
