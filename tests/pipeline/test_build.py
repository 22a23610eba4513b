"""The builders' batched helpers."""

from dataclasses import replace

import pytest
import torch
import toys

from leapfactual.pipeline import build
from leapfactual.pipeline.build import build_vae, predict_probs
from leapfactual.pipeline.settings import VAESettings


def test_predict_probs_batches() -> None:
    x, _ = toys.toy_points(10)
    probs = predict_probs(toys.quadrant, x, batch_size=3)
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
    build.fit_vae(
        torch.rand(4, 3, 8, 8), VAESettings(kind="resnet", width=4, epochs=1, min_steps=0), 0
    )
    assert seen == [1.0]


@pytest.mark.parametrize("name", ["beta", "grad_clip"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1e-5])
def test_a_bad_kl_weight_or_clip_is_refused(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"vae\.{name} must be a finite number >= 0"):
        VAESettings(**{name: value})


class PixelSign(torch.nn.Module):
    """A classifier that reads one pixel only: class 1 when pixel (0, 0) is above 0.5."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(40.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = self.gain * (x[:, 0, 0, 0] - 0.5)
        return torch.stack([-logit, logit], dim=1)


def test_the_agreement_term_measures_how_differently_the_classifier_answers() -> None:
    model = PixelSign()
    term = build.agreement_term(model, "logits", weight=2.0)
    x = torch.rand(6, 1, 4, 4)
    same = x.clone().requires_grad_(True)
    assert term(x, same).item() == pytest.approx(0.0, abs=1e-6)
    flipped = x.clone()
    flipped[:, 0, 0, 0] = 1 - x[:, 0, 0, 0]
    flipped.requires_grad_(True)
    p, q = model(x).softmax(1), model(flipped).softmax(1)
    expected = 2.0 * (p * (p.log() - q.log())).sum(1).mean()
    value = term(x, flipped)
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    with build.frozen(model):
        value.backward()
    assert flipped.grad is not None and flipped.grad.abs().sum() > 0
    assert model.gain.grad is None and model.gain.requires_grad  # frozen inside, restored after


def test_the_agreement_term_of_a_regressor_is_the_squared_difference() -> None:
    term = build.agreement_term(lambda x: x.mean(dim=(1, 2, 3)), "value", weight=1.0)
    x = torch.zeros(2, 1, 2, 2)
    assert term(x, torch.ones(2, 1, 2, 2, requires_grad=True)).item() == pytest.approx(1.0)


def test_agreement_needs_a_classifier_that_passes_gradients() -> None:
    images, settings = torch.rand(8, 1, 8, 8), VAESettings(kind="resnet", width=4, agreement=0.1)
    with pytest.raises(ValueError, match=r"vae\.agreement > 0 needs the classifier"):
        build.fit_vae(images, settings, 0)

    def no_gradients(x: torch.Tensor) -> torch.Tensor:  # what an ONNX session returns
        return PixelSign()(x).detach()

    with pytest.raises(ValueError, match=r"needs gradients through the classifier.*torch\.export"):
        build.fit_vae(images, replace(settings, epochs=1), 0, classifier=no_gradients)
    with pytest.raises(ValueError, match=r"vae\.agreement must be a finite number >= 0"):
        VAESettings(agreement=float("nan"))


def test_agreement_makes_the_codec_keep_what_the_classifier_reads() -> None:
    """Noise images and a two-number latent: the plain VAE keeps what varies most, which is
    not the one pixel the classifier reads; with the term it keeps that pixel."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(256, 1, 8, 8, generator=generator)
    test = torch.rand(128, 1, 8, 8, generator=generator)
    classifier = PixelSign().eval()
    agreement = {}
    for weight in (0.0, 0.05):
        settings = VAESettings(
            kind="resnet",
            latent_dim=2,
            width=4,
            epochs=60,
            batch_size=32,
            lr=3e-3,
            agreement=weight,
            min_steps=0,
            probe=False,  # noise through a two-number latent: nothing else can be kept
        )
        codec = build.fit_vae(images, settings, 0, classifier=classifier)
        with torch.no_grad():
            same = classifier(codec.decode(codec.encode(test))).argmax(1) == classifier(
                test
            ).argmax(1)
        agreement[weight] = same.float().mean().item()
    assert agreement[0.05] >= 0.8 > agreement[0.0] + 0.2, agreement
