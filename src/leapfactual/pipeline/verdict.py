"""A run's verdict: may its counterfactuals be trusted at all?

Validity (the classifier puts a CE in its target class) is easy to satisfy with images no
person would accept: a codec whose reconstructions are all one smear, a classifier at chance,
a flow that does not generate the classes, too few training steps. ``fit`` measures each of
these on held-out images and turns each measurement into a :class:`Check` (its value, the
threshold it must reach, its status and the fix); the :class:`Verdict` is the worst of them:

- ``trusted``: every check passed.
- ``caution``: a check is in its grey zone, or could not be measured (a classifier of other
  classes than the data's has no accuracy here).
- ``untrusted``: a check failed; validity says nothing about these CEs.

The thresholds are set by hand (the codec and flow ones where ``fit`` warned before, the
classifier's from a convention for agreement beyond chance) and checked on the tests' tiny
runs: a demo-like run passes every one, a one-epoch codec, a tiny data set, a classifier at
chance and one that misreads reconstructions each fail their own, and a classifier trained on
partly wrong labels is cautioned.
``python -m paper trust --out docs/results/trust`` compares each verdict of deliberately
weakened runs with an independent judge classifier's validity of their CEs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

LEVELS = ("trusted", "caution", "untrusted")
"""Verdict levels, best first."""
STATUSES = ("pass", "caution", "fail", "unmeasured")
_WORST = {"pass": "trusted", "unmeasured": "caution", "caution": "caution", "fail": "untrusted"}

# thresholds: (pass at or beyond, fail beyond); see the module docstring
VARIANCE_KEPT = (0.8, 0.6)
"""Share of the held-out images' pixel variance the codec's reconstructions keep."""
SSIM = (0.6, 0.4)
"""Held-out SSIM of the reconstructions (images of 11 px and more)."""
AGREEMENT = (0.9, 0.75)
"""Share of held-out images the classifier answers alike on the image and its reconstruction."""
REGRESSOR_SHIFT = (0.25, 0.5)
"""Mean change of a regressor's output on reconstructions, in standard deviations of its
outputs (lower is better)."""
ABOVE_CHANCE = (0.8, 0.05)
"""How far a classifier's held-out accuracy rises from chance toward a perfect classifier:
(accuracy - chance) / (1 - chance), Cohen's kappa for balanced classes. Below 0.05 it is at
chance (its CEs explain noise: fail). Below 0.8, the conventional line of "almost perfect"
agreement (Landis and Koch, 1977), it is far from accurate (caution): it disagrees with the
labels on so many images (accuracy below 0.82 with 10 classes, 0.85 with 4, 0.9 with 2) that
its CEs show its mistakes as much as the classes, though they do explain this classifier."""
CLEARLY_ABOVE_CHANCE = 0.25
"""A classifier at least this far from chance toward 1 reads the data well enough for its
agreement on reconstructions to tell a collapsed codec (the VAE's probe)."""
REGRESSOR_SKILL = (0.25, 0.05)
"""A regressor's 1 - mean absolute error / that of always answering the mean (fail below
0.05: no better than the mean)."""
FLOW_SAMPLES = (0.8, 0.6)
"""Share of the flow's samples that the classifier puts in the class they were drawn for."""
STEPS = (500, 200)
"""Optimiser steps of the VAE."""


@dataclass(frozen=True)
class Check:
    """One measured check of a run.

    ``name``: a stable identifier (``codec_variance``, ``codec_ssim``, ``codec_agreement``,
    ``regressor_shift``, ``classifier_accuracy``, ``classifier_outputs``, ``flow_samples``,
    ``training_steps``); ``title``: what it measures, in words; ``value`` (None: not
    measured); ``threshold``: the value it needs to pass; ``fail_at``: beyond this it fails
    (between the two: caution); ``higher_is_better`` (None: the value must equal the
    threshold); ``status``: ``pass``, ``caution``,
    ``fail`` or ``unmeasured``; ``message``: what a value short of passing means; ``fix``.
    """

    name: str
    title: str
    value: float | None
    threshold: float
    fail_at: float
    higher_is_better: bool | None
    status: str
    message: str
    fix: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def line(self) -> str:
        """One line: the title, the value against the threshold, and unless it passed, what
        it means and the fix."""
        sign = {True: ">=", False: "<=", None: "="}[self.higher_is_better]
        value = "not measured" if self.value is None else _fmt(self.value)
        text = f"{self.title}: {value} (needs {sign} {_fmt(self.threshold)})"
        return text if self.passed else f"{text}: {self.message}; {self.fix}"

    def warning(self) -> str:
        """What a check short of passing means, with its fix (one line)."""
        return f"{self.message}; {self.fix}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """The worst status of a run's checks as a level (:data:`LEVELS`), and the checks."""

    level: str
    checks: tuple[Check, ...]

    @property
    def reasons(self) -> list[Check]:
        """The checks that did not pass, failures first."""
        order = {"fail": 0, "caution": 1, "unmeasured": 2}
        return sorted((c for c in self.checks if not c.passed), key=lambda c: order[c.status])

    def headline(self) -> str:
        """One sentence for the top of a page: the level and, unless trusted, why and the fix."""
        if self.level == "trusted":
            return (
                f"Run verdict: trusted (all {len(self.checks)} checks of the codec, the "
                "classifier, the flow and the training passed)."
            )
        first = self.reasons[0]
        more = len(self.reasons) - 1
        also = f" ({more} more check{'s' if more > 1 else ''} below)" if more else ""
        if self.level == "untrusted":
            return (
                f"Run verdict: untrusted. Validity is not meaningful here: {first.message}"
                f"{also}. Fix: {first.fix}."
            )
        return f"Run verdict: caution. {_capital(first.message)}{also}. Fix: {first.fix}."

    def lines(self) -> list[str]:
        """The headline, then one line per check (the ones that did not pass first)."""
        rest = [c for c in self.checks if c.passed]
        return [self.headline(), *(c.line() for c in [*self.reasons, *rest])]

    def to_dict(self) -> dict[str, Any]:
        """``{"level": ..., "checks": [...]}``, as ``run.json`` stores it."""
        return {"level": self.level, "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """The verdict :meth:`to_dict` wrote (a ``ValueError`` for anything else)."""
        if not is_verdict(data):
            raise ValueError("not a verdict: needs a level and a list of checks")
        checks = tuple(Check(**c) for c in data["checks"])
        return cls(str(data["level"]), checks)


def verdict_headline(verdict: Verdict | None) -> str:
    """:meth:`Verdict.headline`, or for a run without one (fitted before verdicts) a line
    that says so: such a run is never presented as trusted."""
    if verdict is None:
        return (
            "Run verdict: unknown (the run was fitted before verdicts, or lacks its flow); "
            "its codec, classifier and flow are unchecked, so validity may mean little. Fix: "
            "fit the run again with this version."
        )
    return verdict.headline()


def is_verdict(data: Any) -> bool:
    """Whether ``data`` is a verdict as :meth:`Verdict.to_dict` writes it."""
    fields = Check.__dataclass_fields__
    return (
        isinstance(data, Mapping)
        and data.get("level") in LEVELS
        and isinstance(data.get("checks"), list)
        and all(isinstance(c, Mapping) and set(c) == set(fields) for c in data["checks"])
        and all(c["status"] in STATUSES for c in data["checks"])
        and all(
            c["value"] is None
            or (isinstance(c["value"], int | float) and not isinstance(c["value"], bool))
            for c in data["checks"]
        )
    )


def judge(
    name: str,
    title: str,
    value: float | None,
    limits: tuple[float, float],
    message: str,
    fix: str,
    higher_is_better: bool = True,
) -> Check:
    """A :class:`Check` of ``value`` against ``limits`` (pass at or beyond the first, fail
    beyond the second); a missing or NaN value is ``unmeasured``."""
    threshold, fail_at = limits
    if value is None or not math.isfinite(value):
        status = "unmeasured"
        value = None
    else:
        sign = 1 if higher_is_better else -1
        status = (
            "pass"
            if sign * value >= sign * threshold
            else ("fail" if sign * value < sign * fail_at else "caution")
        )
    return Check(name, title, value, threshold, fail_at, higher_is_better, status, message, fix)


def worst_of(checks: Sequence[Check]) -> Verdict:
    """The worst status of ``checks`` as a :class:`Verdict`."""
    rank = {level: i for i, level in enumerate(LEVELS)}
    level = max((_WORST[c.status] for c in checks), key=rank.__getitem__, default="caution")
    return Verdict(level, tuple(checks))


def assess(
    summary: Mapping[str, float],
    *,
    regression: bool,
    num_classes: int,
    steps: int | None,
    codec_fix: str,
    agreement_fix: str,
) -> Verdict | None:
    """The verdict of a run from its measured ``summary`` (as ``fit`` records it), its kind,
    the data's number of classes and the VAE's optimiser ``steps``; ``codec_fix`` and
    ``agreement_fix``: what to change when the codec loses the images or what the classifier
    reads. None when the summary lacks what a verdict needs (a run fitted before verdicts,
    or without its flow)."""
    last = (
        "regressor_change_on_reconstructions"
        if regression
        else ("classifier_agreement_on_reconstructions")
    )
    if "vae_test_variance_kept" not in summary or last not in summary:
        return None
    checks = [*codec_checks(summary, regression, codec_fix, agreement_fix)]
    checks.append(accuracy_check(summary, regression))
    if not regression:
        checks.append(_outputs_check(summary.get("classifier_outputs"), num_classes))
        checks.append(_flow_check(summary.get("flow_sample_accuracy")))
    checks.append(_steps_check(steps))
    return worst_of(checks)


def codec_checks(
    summary: Mapping[str, float], regression: bool, codec_fix: str, agreement_fix: str
) -> list[Check]:
    """How much of the images the codec keeps, and of what the classifier reads."""
    kept, structure = summary.get("vae_test_variance_kept"), summary.get("vae_test_ssim")
    checks = [
        judge(
            "codec_variance",
            "codec: share of the held-out images' variation its reconstructions keep",
            kept,
            VARIANCE_KEPT,
            f"the codec's reconstructions keep only {_pct(kept)} of the images' variation "
            "(they drift toward one image), so CEs show the codec's smear, not the classifier",
            codec_fix,
        ),
    ]
    if structure is not None and math.isfinite(structure):  # NaN under the SSIM window
        checks.append(
            judge(
                "codec_ssim",
                "codec: held-out SSIM of the reconstructions",
                structure,
                SSIM,
                f"the codec's reconstructions are structurally unlike the images (SSIM "
                f"{_fmt(structure)}): CEs inherit their blur or artefacts",
                codec_fix,
            )
        )
    if regression:
        shift = _ratio(
            summary.get("regressor_change_on_reconstructions"),
            summary.get("regressor_output_std"),
        )
        checks.append(
            judge(
                "regressor_shift",
                "codec: change of the regressor's output on reconstructions, in standard "
                "deviations of its outputs",
                shift,
                REGRESSOR_SHIFT,
                f"the regressor's output moves by {_fmt(shift)} of its spread between an image "
                "and its reconstruction: CEs would move it through codec artefacts",
                agreement_fix,
                higher_is_better=False,
            )
        )
        return checks
    agreement = summary.get("classifier_agreement_on_reconstructions")
    checks.append(
        judge(
            "codec_agreement",
            "codec: held-out images the classifier answers alike on the image and its "
            "reconstruction",
            agreement,
            AGREEMENT,
            f"the classifier agrees with itself on only {_pct(agreement)} of held-out "
            "reconstructions: the codec loses what the classifier looks at, so CEs and their "
            "validity are unreliable",
            agreement_fix,
        )
    )
    return checks


def accuracy_check(summary: Mapping[str, float], regression: bool) -> Check:
    """Is the model better than chance on the run's labelled held-out images (fail: its CEs
    explain noise), and close to right on them (caution: its CEs explain its mistakes as much
    as the classes)? For a regressor: better than always answering the mean."""
    if regression:
        skill = _skill(summary.get("regressor_test_mae"), summary.get("regressor_baseline_mae"))
        return judge(
            "classifier_accuracy",
            "regressor: held-out error below that of always answering the mean "
            "(1 - MAE / baseline MAE)",
            skill,
            REGRESSOR_SKILL,
            f"the regressor predicts the held-out values little better than their mean (1 - "
            f"MAE / baseline MAE = {_fmt(skill)}): its CEs would explain noise",
            "check the values and the regressor (train it longer, or give the right one)",
        )
    accuracy, chance = summary.get("classifier_test_accuracy"), summary.get("classifier_chance")
    rise = _above(accuracy, chance)
    title = (
        "classifier: held-out accuracy's rise from chance toward 1 ((accuracy - chance) / "
        "(1 - chance))"
    )
    if rise is not None and rise >= ABOVE_CHANCE[1]:
        return judge(
            "classifier_accuracy",
            title,
            rise,
            ABOVE_CHANCE,
            f"the classifier is far from accurate on the run's labelled held-out images "
            f"(accuracy {_fmt(accuracy)}, chance {_fmt(chance)}): its CEs explain what it "
            "reads as each class, mistakes included, so read them as explanations of this "
            "classifier, not of the classes",
            "train it longer or wider, or on more images (--set classifier.min_steps=... "
            "--set classifier.width=...), and check the labels",
        )
    return judge(
        "classifier_accuracy",
        title,
        rise,
        ABOVE_CHANCE,
        f"the classifier is close to chance on the run's labelled held-out images (accuracy "
        f"{_fmt(accuracy)}, chance {_fmt(chance)}): its CEs would explain noise",
        "check the labels and the classifier (classifier.outputs, the class order, the image "
        "size and channels it expects)",
    )


def reads_the_data(summary: Mapping[str, float], regression: bool) -> bool:
    """Whether the model is at least :data:`CLEARLY_ABOVE_CHANCE` from chance toward 1 (or
    could not be measured)."""
    value = accuracy_check(summary, regression).value
    return value is None or value >= CLEARLY_ABOVE_CHANCE


def _flow_check(samples: float | None) -> Check:
    return judge(
        "flow_samples",
        "flow: samples the classifier puts in the class they were drawn for",
        samples,
        FLOW_SAMPLES,
        f"only {_pct(samples)} of the flow's samples are in the class they were drawn for: the "
        "flow has not learnt what tells the classes apart in the latent space, so "
        "LeapFactual's CEs will often miss their target",
        "train it longer or wider (--set flow.epochs=... --set flow.width=256 --set "
        "flow.depth=4) or on more images",
    )


def _steps_check(steps: int | None) -> Check:
    return judge(
        "training_steps",
        "training: optimiser steps of the VAE",
        None if steps is None else float(steps),
        STEPS,
        f"the VAE trained for only {steps} optimiser steps: too little training for its "
        "reconstructions to be trusted",
        "raise vae.epochs or vae.min_steps, or add images",
    )


def _outputs_check(outputs: float | None, num_classes: int) -> Check:
    """Whether the classifier answers as many classes as the data has (caution otherwise:
    its accuracy and the flow's samples cannot be measured on this data)."""
    status = "unmeasured" if outputs is None else ("pass" if outputs == num_classes else "caution")
    return Check(
        "classifier_outputs",
        "classifier: number of outputs against the data's classes",
        outputs,
        float(num_classes),
        float(num_classes),
        None,
        status,
        f"the classifier answers {_fmt(outputs)} classes and the data has {num_classes}: its "
        "accuracy and the flow's samples cannot be checked on this data",
        "label the data with the classifier's own classes (one folder per class, in its order)",
    )


def _above(accuracy: float | None, chance: float | None) -> float | None:
    if accuracy is None or chance is None or chance >= 1:
        return None
    return (accuracy - chance) / (1 - chance)


def _skill(mae: float | None, baseline: float | None) -> float | None:
    if mae is None or baseline is None or baseline <= 0:
        return None
    return 1 - mae / baseline


def _ratio(change: float | None, spread: float | None) -> float | None:
    if change is None or spread is None or spread <= 0:
        return None
    return change / spread


def _pct(value: float | None) -> str:
    if value is None:
        return "an unmeasured share"
    return "none" if value < 0 else f"{value:.0%}"


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "not measured"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


__all__ = [
    "LEVELS",
    "Check",
    "Verdict",
    "accuracy_check",
    "assess",
    "codec_checks",
    "is_verdict",
    "judge",
    "reads_the_data",
    "verdict_headline",
    "worst_of",
]
