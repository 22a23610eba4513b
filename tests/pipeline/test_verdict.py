"""The run verdict on tiny runs the tests make: a good one is trusted, each broken one is
untrusted for its own reason, and the fail-fast stops fire before the fit goes on."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from leapfactual.data import Dataset
from leapfactual.metrics import collapsed
from leapfactual.pipeline import (
    ClassifierSettings,
    ExplainSettings,
    FitSettings,
    FlowSettings,
    VAESettings,
    explain_run,
    fit_run,
    fit_summary,
    load_run,
    override,
    verdict_headline,
)
from leapfactual.pipeline.verdict import (
    ABOVE_CHANCE,
    Verdict,
    accuracy_check,
    assess,
    judge,
    reads_the_data,
    worst_of,
)
from leapfactual.report import build_report


def blobs(n: int = 192, seed: int = 0, misread: bool = False) -> Dataset:
    """16 x 16 grey images of one soft blob, on the left (class a) or the right (class b).
    ``misread``: the blob's side is random and the class is the phase of a faint
    checkerboard instead, a detail the tiny VAE drops (a classifier reads it, the codec not)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    side = torch.randint(0, 2, (n,), generator=g) if misread else labels
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    cx = torch.where(side == 0, 3.0, 12.0) + torch.rand(n, generator=g) * 2
    cy = 3 + torch.rand(n, generator=g) * 10
    amp = 0.6 + 0.4 * torch.rand(n, generator=g)
    d2 = (xs - cx[:, None, None]) ** 2 + (ys - cy[:, None, None]) ** 2
    images = amp[:, None, None] * torch.exp(-d2 / 8)
    if misread:
        board = ((xs + ys) % 2)[None]
        images = (
            images * 0.9 + 0.05 + 0.05 * torch.where(labels[:, None, None] == 1, board, 1 - board)
        )
    return Dataset(images[:, None].clamp(0, 1), labels, ["a", "b"], "blobs")


def config(vae_steps: int = 500, augment: int = 2, lr: float = 2e-3, **vae: object) -> FitSettings:
    """Tiny models with enough steps for the blobs (about ten seconds a run)."""
    tiny = {"kind": "conv", "latent_dim": 8, "width": 8, "epochs": 1, "batch_size": 32, **vae}
    return FitSettings(
        vae=VAESettings(min_steps=vae_steps, **tiny),  # type: ignore[arg-type]
        classifier=ClassifierSettings(
            width=8, epochs=1, min_steps=150, batch_size=32, augment=augment, lr=lr
        ),
        flow=FlowSettings(epochs=1, min_steps=200, batch_size=64),
    )


def reasons(run) -> set[str]:
    return {c.name for c in run.verdict.checks if c.status == "fail"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("verdict")


@pytest.fixture(scope="module")
def good(runs):
    return fit_run(runs / "good", config(), dataset=blobs())


def test_the_demo_like_run_is_trusted_and_says_so_everywhere(good) -> None:
    assert good.verdict.level == "trusted", good.verdict.lines()
    stored = json.loads((good.directory / "run.json").read_text())["verdict"]
    assert stored["level"] == "trusted" and len(stored["checks"]) == 7
    assert {"name", "value", "threshold", "fix"} <= set(stored["checks"][0])
    assert good.warnings == []
    exp = explain_run(good, settings=ExplainSettings(limit=16), trajectory="none").explanation
    assert exp is not None and exp.verdict == "trusted"
    assert exp.robust is not None and float(exp.robust.float().mean()) >= 0.9
    assert float(collapsed(exp.x_cf, exp.x, exp.target).float().mean()) <= 0.2
    summary = exp.summary()
    assert summary["verdict"] == "trusted" and 0 <= summary["robust_validity"] <= 1  # type: ignore[operator]
    assert "verdict trusted" in repr(exp) and "run verdict: trusted" in exp._repr_html_()
    assert fit_summary(good)["run verdict"] == "trusted"


def test_a_classifier_far_from_accurate_is_cautioned_not_stopped(runs, good) -> None:
    data = blobs()
    wrong = torch.isin(torch.arange(len(data)) % 8, torch.tensor([3, 6]))  # a quarter, both
    flipped = torch.where(wrong, 1 - data.labels, data.labels)  # classes alike: still balanced
    noisy = Dataset(data.images, flipped, ["a", "b"], "blobs")
    run = fit_run(runs / "noisy", config(), dataset=noisy)  # no fail-fast stop: above chance
    check = next(c for c in run.verdict.checks if c.name == "classifier_accuracy")
    assert check.status == "caution" and 0.05 <= check.value < ABOVE_CHANCE[0], check.line()
    assert run.verdict.level != "trusted"
    assert "far from accurate" in check.message and "check the labels" in check.fix
    right = next(c for c in good.verdict.checks if c.name == "classifier_accuracy")
    assert right.status == "pass" and right.value >= ABOVE_CHANCE[0]  # quiet on a good run


def test_the_accuracy_check_between_chance_and_a_perfect_classifier() -> None:
    def check(accuracy: float, chance: float = 0.25):
        summary = {"classifier_test_accuracy": accuracy, "classifier_chance": chance}
        return accuracy_check(summary, regression=False)

    assert [check(a).status for a in (0.26, 0.69, 0.84, 0.86, 1.0)] == [
        "fail", "caution", "caution", "pass", "pass",
    ]  # fmt: skip
    assert "close to chance" in check(0.26).message and "far from" in check(0.69).message
    assert check(0.9, chance=0.5).status == "pass" and check(0.85, chance=0.5).status == "caution"
    # the collapse probe still watches a classifier clearly better than chance
    assert reads_the_data({"classifier_test_accuracy": 0.69, "classifier_chance": 0.25}, False)
    assert not reads_the_data({"classifier_test_accuracy": 0.3, "classifier_chance": 0.25}, False)
    assert reads_the_data({}, False)  # unmeasured


def test_a_one_epoch_codec_is_untrusted_for_its_codec(runs) -> None:
    run = fit_run(runs / "one-epoch", config(vae_steps=0), dataset=blobs())
    assert run.verdict.level == "untrusted"
    assert {"codec_variance", "training_steps"} <= reasons(run)
    assert run.verdict.headline().startswith("Run verdict: untrusted. Validity is not meaningful")


def test_a_tiny_data_set_at_the_users_budget_is_untrusted_for_its_training(runs) -> None:
    run = fit_run(runs / "tiny", config(vae_steps=0, epochs=8), dataset=blobs(40))
    assert run.meta["vae_steps"] == 8 and "training_steps" in reasons(run)
    assert run.verdict.level == "untrusted"


def test_a_classifier_at_chance_stops_the_fit_unless_accepted(runs) -> None:
    chance = config(lr=1e-12)  # an untrained classifier answers one class whatever it sees
    with pytest.raises(ValueError, match=r"close to chance.*classifier\.accept_chance=true"):
        fit_run(runs / "chance", chance, dataset=blobs())
    assert not (runs / "chance" / "vae.safetensors").exists()  # stopped before the VAE
    on = override(chance, {"classifier.accept_chance": "true"})  # goes on in the same run
    run = fit_run(runs / "chance", on, dataset=blobs())
    assert run.verdict.level == "untrusted" and "classifier_accuracy" in reasons(run)


def test_a_classifier_that_misreads_reconstructions(runs) -> None:
    reader = config(augment=0)  # shifts would scramble the checkerboard's phase
    with pytest.raises(ValueError, match=r"the VAE collapsed: after .* no better than chance"):
        fit_run(runs / "misread", reader, dataset=blobs(misread=True))
    on = override(reader, {"vae.probe": "false"})
    run = fit_run(runs / "misread", on, dataset=blobs(misread=True))
    assert run.verdict.level == "untrusted" and "codec_agreement" in reasons(run)
    assert "codec_variance" not in reasons(run)  # the images are kept, the detail is not


def test_the_collapse_probe_stops_a_codec_that_returns_the_mean_image(runs, good) -> None:
    with pytest.raises(
        ValueError, match=r"the VAE collapsed: after \d+ of \d+ epochs its reconstructions keep"
    ):
        fit_run(runs / "collapse", config(beta=50.0), dataset=blobs())
    assert good.verdict.level == "trusted"  # the same probe let the good run through


def test_an_untrusted_report_says_so_before_any_validity(runs) -> None:
    run = load_run(runs / "one-epoch", dataset=blobs())
    exp = explain_run(run, settings=ExplainSettings(limit=16), trajectory="none").explanation
    assert exp is not None and exp.verdict == "untrusted"
    assert float(collapsed(exp.x_cf, exp.x, exp.target).float().mean()) >= 0.5  # one smear
    report = build_report(exp, run.class_names, "t", run=run)
    assert report.verdict.startswith("Run verdict: untrusted. Validity is not meaningful here")
    assert "Fix:" in report.verdict
    assert ("run verdict", "untrusted") in report.summary
    assert any(key == "codec: held-out PSNR (dB)" for key, _ in report.summary)


def test_a_run_fitted_before_verdicts_loads_and_is_never_trusted(runs, good, tmp_path) -> None:
    old = tmp_path / "old"
    shutil.copytree(good.directory, old)
    meta = json.loads((old / "run.json").read_text())
    del meta["verdict"]
    for key in ("vae_test_variance_kept", "classifier_chance", "classifier_outputs"):
        del meta["summary"][key]
    (old / "run.json").write_text(json.dumps(meta))
    run = load_run(old, dataset=blobs())
    assert run.verdict is None
    assert verdict_headline(run.verdict).startswith("Run verdict: unknown")
    exp = explain_run(run, settings=ExplainSettings(limit=2), trajectory="none").explanation
    assert exp is not None and exp.verdict == "unknown" and exp.summary()["verdict"] == "unknown"
    assert build_report(exp, run.class_names, "t").verdict.startswith("Run verdict: unknown")


def test_checks_pass_warn_and_fail_at_their_thresholds() -> None:
    def check(value: float | None, higher: bool = True):
        return judge("x", "x", value, (0.8, 0.6) if higher else (0.25, 0.5), "m", "f", higher)

    assert [check(v).status for v in (0.9, 0.7, 0.5, None, float("nan"))] == [
        "pass", "caution", "fail", "unmeasured", "unmeasured",
    ]  # fmt: skip
    assert [check(v, higher=False).status for v in (0.1, 0.3, 0.6)] == ["pass", "caution", "fail"]
    assert worst_of([check(0.9), check(0.7)]).level == "caution"
    assert worst_of([check(0.9), check(0.5), check(0.7)]).level == "untrusted"
    assert worst_of([check(0.9)]).level == "trusted"
    verdict = worst_of([check(0.9), check(0.5)])
    assert Verdict.from_dict(verdict.to_dict()) == verdict
    with pytest.raises(ValueError, match="not a verdict"):
        Verdict.from_dict({"level": "fine", "checks": []})


def test_a_regressor_whose_outputs_the_codec_shifts_is_untrusted() -> None:
    summary = {
        "vae_test_variance_kept": 0.95,
        "vae_test_ssim": 0.9,
        "regressor_test_mae": 0.1,
        "regressor_baseline_mae": 1.0,
        "regressor_change_on_reconstructions": 0.6,  # six times its own error
        "regressor_output_std": 1.0,
    }
    fix = {"codec_fix": "c", "agreement_fix": "a"}
    verdict = assess(summary, regression=True, num_classes=1, steps=1000, **fix)
    assert verdict is not None and verdict.level == "untrusted"
    assert [c.name for c in verdict.reasons] == ["regressor_shift"]
    kept = summary | {"regressor_change_on_reconstructions": 0.1}
    assert assess(kept, regression=True, num_classes=1, steps=1000, **fix).level == "trusted"  # type: ignore[union-attr]
