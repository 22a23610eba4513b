"""The builders' batched helpers."""

import pytest
import torch
import toys

from leapfactual.pipeline import build
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
    assert build_vae(VAESettings(kind="resnet"), 3, 32).beta == 1e-5
    assert build_vae(VAESettings(kind="resnet", beta=2e-4), 3, 32).beta == 2e-4
    assert build_vae(VAESettings(kind="conv", beta=1e-3), 1, 28).beta == 1e-3


def test_each_vae_kind_has_its_gradient_clip(monkeypatch: pytest.MonkeyPatch) -> None:
    """The residual VAE clips by default, the conv VAE does not; 0 turns clipping off."""
    assert VAESettings(kind="conv").max_grad_norm is None
    assert VAESettings(kind="resnet").max_grad_norm == 1.0
    assert VAESettings(kind="resnet", grad_clip=0.0).max_grad_norm is None
    assert VAESettings(kind="conv", grad_clip=5.0).max_grad_norm == 5.0
    seen: list[float | None] = []
    monkeypatch.setattr(build, "train_vae", lambda *a, **kw: seen.append(kw["max_grad_norm"]))
    build.fit_vae(torch.rand(4, 3, 8, 8), VAESettings(kind="resnet", width=4, epochs=1), 0)
    assert seen == [1.0]


@pytest.mark.parametrize("name", ["beta", "grad_clip"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1e-5])
def test_a_bad_kl_weight_or_clip_is_refused(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"vae\.{name} must be a finite number >= 0"):
        VAESettings(**{name: value})
