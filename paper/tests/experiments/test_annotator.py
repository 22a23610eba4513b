import numpy as np
import torch

from leapfactual.data import Dataset, ThicknessRule, load_mnist5k
from leapfactual.flow import MLPField, UNet1DField
from leapfactual.morpho import measure
from leapfactual.pipeline import (
    ClassifierSettings,
    FitSettings,
    FlowSettings,
    VAESettings,
    predict_probs,
)
from paper.experiments._shared import fit_weak_strong
from paper.experiments.annotator import (
    annotate,
    annotator_explainer,
    fit_annotator_flow,
)

UNET = FlowSettings(field="unet", condition="onehot", width=8, depth=1, epochs=1, min_steps=0)


def test_rule_annotator_labels_by_thickness() -> None:
    img = torch.zeros(2, 1, 28, 28)
    img[0, 0, 6:22, 13:15] = 1.0  # a 2-pixel bar
    img[1, 0, 6:22, 11:17] = 1.0  # a 6-pixel bar
    assert annotate(ThicknessRule(3.5), img, "logits").argmax(1).tolist() == [0, 1]


def test_explanations_follow_the_annotator_not_the_classifier(tiny_run) -> None:
    vae, classifier = tiny_run.vae, tiny_run.classifier
    train = tiny_run.train.images[:800]
    with torch.no_grad():
        t = measure(vae.decode(vae.encode(train)))["thickness"]
    rule = ThicknessRule(float(np.nanmedian(t)))
    field = fit_annotator_flow(
        vae, rule, train, FlowSettings(epochs=20, min_steps=0), seed=0, outputs="logits"
    )
    assert isinstance(field, MLPField) and field.condition.num_classes == 2
    x = tiny_run.test.images[:64]
    labels = annotate(rule, vae.decode(vae.encode(x)).detach(), "logits").argmax(1)
    x, start = x[labels == 0][:16], labels[labels == 0][:16]  # thin digits -> thick
    exp = annotator_explainer(rule, vae, field, "logits").explain(x, torch.ones_like(start))
    assert exp.probs_reliable is not None and exp.x_reliable is not None
    followed = float((annotate(rule, exp.x_reliable, "logits").argmax(1) == 1).float().mean())
    assert followed > 0.5  # the annotator says "thick" for most reliable CEs (inputs: none)
    before = np.nanmean(measure(vae.decode(vae.encode(x)).detach())["thickness"])
    assert np.nanmean(measure(exp.x_reliable)["thickness"]) > before  # strokes got thicker
    # the digit classifier was never asked: its label is not what the flow moved
    assert predict_probs(classifier, exp.x_reliable).shape == (len(x), 10)


def test_the_experiments_flows_honour_their_settings(tiny_run) -> None:
    """The flow settings are the builder's: a U-Net under one-hot conditions, not an MLP
    under softmax ones, and as many classes as the labeller has."""
    rule = ThicknessRule(2.5)
    images = tiny_run.train.images[:64]
    field = fit_annotator_flow(tiny_run.vae, rule, images, UNET, outputs="logits")  # the rule's
    assert isinstance(field, UNet1DField) and field.condition.kind == "onehot"
    assert field.condition.num_classes == 2


def test_weak_strong_models_take_their_class_count_from_the_data() -> None:
    digits = load_mnist5k()
    keep = (digits.labels < 3).nonzero().flatten()[:240]
    three = Dataset(digits.images[keep], digits.labels[keep], ["0", "1", "2"], "three digits")
    tiny = VAESettings(latent_dim=8, width=8, epochs=1, min_steps=0)
    cfg = FitSettings(
        vae=tiny,
        classifier=ClassifierSettings(width=8, epochs=1, min_steps=0),
        flow=UNET,
        cvae=tiny,
    )
    model = fit_weak_strong(three, cfg, seed=0, weak_fraction=0.5, cvae=True, device="cpu")
    x = three.images[:4]
    assert predict_probs(model.weak, x).shape == predict_probs(model.strong, x).shape == (4, 3)
    assert isinstance(model.flow, UNet1DField) and model.flow.condition.kind == "onehot"
    assert model.flow.condition.num_classes == 3 and model.cvae is not None
    assert model.cvae.num_classes == 3
