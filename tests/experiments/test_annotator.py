import numpy as np
import torch

from leapfactual.data import ThicknessRule
from leapfactual.experiments._shared import predict_probs
from leapfactual.experiments.annotator import (
    annotate,
    annotator_explainer,
    fit_annotator_flow,
)
from leapfactual.morpho import measure
from leapfactual.pipeline import FitConfig


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
    fit = FitConfig(flow_epochs=20)
    field = fit_annotator_flow(vae, rule, train, fit, seed=0, outputs="logits")
    x = tiny_run.test.images[:64]
    labels = annotate(rule, vae.decode(vae.encode(x)).detach(), "logits").argmax(1)
    x, start = x[labels == 0][:16], labels[labels == 0][:16]  # thin digits -> thick
    exp = annotator_explainer(rule, vae, field, "logits").explain(x, torch.ones_like(start))
    assert exp.probs_reliable is not None and exp.x_reliable is not None
    followed = float((annotate(rule, exp.x_reliable, "logits").argmax(1) == 1).float().mean())
    assert followed >= 0.75  # the annotator says "thick" for most reliable CEs
    before = np.nanmean(measure(vae.decode(vae.encode(x)).detach())["thickness"])
    assert np.nanmean(measure(exp.x_reliable)["thickness"]) > before  # strokes got thicker
    # the digit classifier was never asked: its label is not what the flow moved
    assert predict_probs(classifier, exp.x_reliable).shape == (len(x), 10)
