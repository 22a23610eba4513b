"""Trust before validity, measured: does a run's verdict tell good runs from broken ones?

A grid of deliberately weakened runs (a one-epoch codec, too few steps, little data, the wrong
codec kind, the classifier-agreement term, a larger image size, a classifier at chance, a
codec that loses what the classifier reads) next to the defaults, on two data sets with an
independent *judge*: a classifier of another width and seed trained on other images (MNIST: the
run's training split of all 5,000 digits; colour shapes: 2,000 images of another seed). Each
run is fitted as a user would (the early collapse probe and the chance check on; a case they
stop is recorded, then fitted again with the stop turned off so that its verdict can be
measured), then held-out images are explained toward a random other class with LeapFactual's
defaults. Per run: the verdict, validity, robust validity, the judge's validity of the same CEs
(the plain CE and the reliable CE, each on its own), and the per-CE evidence (fragile,
collapsed).

Targets (issue 26), each measured on the plain and on the reliable CE: no run marked trusted
whose judge validity is below 0.7; at most 10 % of the runs with judge validity of at least 0.9
marked untrusted; the demo run trusted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.data import Dataset, colour_shapes, load_dataset, stratified_split
from leapfactual.metrics import collapsed, robustness
from leapfactual.pipeline import (
    ClassifierSettings,
    ExplainSettings,
    FitSettings,
    Run,
    VAESettings,
    Verdict,
    explain_run,
    fit_classifier,
    fit_run,
    override,
    predict_probs,
)
from paper.experiments._shared import share_stages
from paper.pages import write_page
from paper.tables import markdown_table

TRUSTED_FLOOR = 0.7
"""No run marked trusted may have a judge validity below this."""
GOOD = 0.9
"""Runs with at least this judge validity are good; at most :data:`FALSE_ALARMS` of them may
be marked untrusted."""
FALSE_ALARMS = 0.1
JUDGED = {"plain CE": "judge_validity", "reliable CE": "reliable_judge_validity"}
"""The CEs each target is measured on, each with the row's field of its judge validity: the
plain CE (what the loop returns first) and the reliable CE (after injection)."""


@dataclass(frozen=True)
class Case:
    """One run of the grid: its data (``digits``: mnist5k; ``shapes``: colour shapes of
    ``size`` px), how many images (None: all), settings on top of the defaults (``--set``
    strings), ``labels = "shuffled"`` for a classifier trained on shuffled labels (at
    chance), and ``full_width`` for the library's default widths instead of the grid's half
    widths (a well-trained run)."""

    name: str
    what: str
    data: str = "digits"
    size: int = 28
    images: int | None = None
    sets: tuple[tuple[str, str], ...] = ()
    labels: str = "true"
    full_width: bool = False


CASES: tuple[Case, ...] = (
    Case("demo", "the demo's data and budgets at half widths (the grid's base models)"),
    Case(
        "demo-defaults",
        "none: the demo exactly (its data, the default widths and budgets)",
        full_width=True,
    ),
    Case("vae-1-epoch", "VAE trained 1 epoch", sets=(("vae.epochs", "1"), ("vae.min_steps", "0"))),
    Case(
        "flow-2-epochs",
        "flow trained 2 epochs",
        sets=(("flow.epochs", "2"), ("flow.min_steps", "0")),
    ),
    Case(
        "small",
        "300 images, no minimum of steps",
        images=300,
        sets=(("vae.min_steps", "0"), ("classifier.min_steps", "0"), ("flow.min_steps", "0")),
    ),
    Case("small-defaults", "300 images, default minimum of steps", images=300),
    Case("agreement", "classifier-agreement term 0.01", sets=(("vae.agreement", "0.01"),)),
    Case("blurry", "VAE KL weight 0.05 (blurry codec)", sets=(("vae.beta", "0.05"),)),
    Case("chance", "classifier trained on shuffled labels", labels="shuffled"),
    Case("shapes-32", "colour shapes, defaults", data="shapes", size=32),
    Case(
        "shapes-32-trained",
        "none: colour shapes at the default widths, classifier trained 1,500 steps",
        data="shapes",
        size=32,
        sets=(("classifier.min_steps", "1500"),),
        full_width=True,
    ),
    Case(
        "shapes-32-conv",
        "colour shapes, conv VAE",
        data="shapes",
        size=32,
        sets=(("vae.kind", "conv"),),
    ),
    Case(
        "shapes-32-agreement",
        "colour shapes, agreement term 0.01",
        data="shapes",
        size=32,
        sets=(("vae.agreement", "0.01"),),
    ),
    Case(
        "shapes-48-small-work",
        "colour shapes at 48 px, VAE working at 12 px",
        data="shapes",
        size=48,
        sets=(("vae.work_size", "12"),),
    ),
)
"""The grid (``python -m paper trust --cases`` picks some)."""
THRESHOLDS = (
    "every threshold of the verdict (leapfactual.pipeline.verdict) but one was set before any "
    "grid was run. The classifier-accuracy check's pass line was raised from 0.25 to 0.8 after "
    "the grid at seed 0 marked trusted two colour-shape runs whose classifier was right on "
    "only 0.69 of held-out shapes (judge validity 0.28): below 0.8, Cohen's kappa's "
    "conventional line of almost perfect agreement, a classifier is cautioned (its CEs show "
    "its mistakes as much as the classes, though they do explain it). The line comes from that "
    "convention, not from those runs: any line from 0.59 to 0.97 separated them. The "
    "codec's variation-kept line (caution below 0.8, fail below 0.6) stays as set: it is there "
    "to catch a codec drifting to one image (the grid's drifted codecs keep -0.003 to 0.13), "
    "and the seed-0 grid put the half-width demo at 0.801 and its agreement twin at 0.788 "
    "with the same judge validity (0.89): that says the line sits at the typical value of "
    "this grid's half-width MNIST codec, so such runs fall on either side of it by chance "
    "and get at worst a caution; moving it after seeing those two runs would fit it to them."
)
"""Which thresholds were set before the grid was run and which after (with the reason)."""
SEEDS_SEEN = (0, 1)
"""Seeds whose grid runs were looked at while the verdict's thresholds and the grid were set
(0: the first page; 1: the well-trained cases, checked while they were added)."""


DEFAULTS_SEEN = {
    2: "the flow's minimum of optimiser steps (flow.min_steps, 480 -> 3000) was chosen on "
    "the demo runs of seeds 0 and 1 with this seed's demo run also in view "
    "(docs/design-notes.md), so the demo-defaults row is not blind to that choice"
}
"""Seeds whose runs were in view when a library default was chosen, and which default."""


def seed_line(seed: int) -> str:
    """What the page's seed is and whether the verdict's thresholds were set on it."""
    if seed in SEEDS_SEEN:
        return (
            f"Seed: {seed} for every run, split and judge. Runs of this seed were looked at "
            "while the verdict's thresholds and the grid were set, so this page is not a test "
            f"on unseen runs (use a seed other than {', '.join(map(str, SEEDS_SEEN))})."
        )
    return (
        f"Seed: {seed} for every run, split and judge; the verdict's thresholds and the grid "
        f"were set on runs of seeds {' and '.join(map(str, SEEDS_SEEN))} only, never on "
        "this one" + (f"; but {DEFAULTS_SEEN[seed]}." if seed in DEFAULTS_SEEN else ".")
    )


STOP_OVERRIDES = (("vae.probe", "false"), ("classifier.accept_chance", "true"))
"""What a user would set to go on after a fail-fast stop."""


GRID_BASE = FitSettings(
    vae=VAESettings(latent_dim=16, width=16),
    classifier=ClassifierSettings(width=16),
)
"""The defaults with the VAE and classifier at half width (the residual VAE's own width is 16
already): every default budget and minimum of steps at a lower cost (the point is the
verdict, not the runs' quality)."""
SHAPES_WORK_SIZE = 16
"""The side the residual VAE works at on the grid's 32 px colour shapes (the default: 32): a
step there cost about 0.7 s on the loaded 2-core machine, four times one at 16 px, and the
default minimum of 1,000 steps made each 32 px codec a 12-minute fit."""
GRID = (
    "demo",
    "demo-defaults",
    "vae-1-epoch",
    "small",
    "chance",
    "shapes-32",
    "shapes-32-trained",
    "shapes-32-conv",
)
"""The cases a plain ``python -m paper trust`` runs: the weakenings of epochs, data size,
codec kind and labels, the weak colour-shape classifier, and two well-trained runs (so that
the false-alarm target is tested), sized for about 40 minutes with ``--limit 50`` on a 2-core
machine under a load of about 9; ``--cases`` adds the others (the agreement term, the image
size and the flow's epochs were weakened in the first grid, at seed 0)."""


@dataclass(frozen=True)
class TrustConfig:
    """Which cases, how many CEs per run, the shapes data and the judges (trained for
    ``judge_epochs``, raised to ``judge_min_steps`` optimiser steps on small data)."""

    cases: tuple[str, ...] = GRID
    limit: int = 100
    shapes_images: int = 1200
    judge_images: int = 2000
    judge_epochs: int = 8
    judge_min_steps: int = 1500
    judge_width: int = 32
    seed: int = 0
    base: FitSettings = field(default_factory=lambda: GRID_BASE)


@dataclass(frozen=True)
class Judge:
    """An independent classifier and its accuracy on labelled images it never saw."""

    model: nn.Module
    accuracy: float


@dataclass
class TrustRow:
    """One run: the stop a user met (None: none), its verdict, and its CEs' numbers."""

    case: Case
    stopped: str | None
    verdict: Verdict | None
    validity: float
    robust_validity: float
    judge_validity: float
    evidence: dict[str, float]
    summary: dict[str, float]
    fit_seconds: float
    shared: str | None = None
    resumed: bool = False
    reliable_judge_validity: float = math.nan


@dataclass
class TrustResult:
    config: TrustConfig
    rows: list[TrustRow] = field(default_factory=list)
    judges: dict[tuple[str, int], Judge] = field(default_factory=dict)
    seconds: float = 0.0


def case_by_name(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise ValueError(f"unknown case {name!r}; choose from {[c.name for c in CASES]}")


def case_data(case: Case, config: TrustConfig) -> Dataset:
    """The images a case's run is fitted on."""
    if case.data == "shapes":
        data = colour_shapes(config.shapes_images, case.size, config.seed)
    else:
        data = load_dataset("mnist5k")
    if case.images is not None:
        share = case.images / len(data)
        (keep,) = stratified_split(data.labels, [share], config.seed)
        data = data.subset(keep.sort().values)
    if case.labels == "shuffled":
        generator = torch.Generator().manual_seed(config.seed)
        labels = data.labels[torch.randperm(len(data), generator=generator)]
        data = Dataset(data.images, labels, data.class_names, f"{data.name}, shuffled labels")
    return data


def case_fit(case: Case, config: TrustConfig, data: Dataset) -> FitSettings:
    """The settings a case is fitted with: the grid's base, the case's own on top."""
    base = FitSettings() if case.full_width else config.base
    fit = override(replace(base, seed=config.seed, data=data.name), dict(case.sets))
    vae = fit.vae
    if case.data == "shapes" and case.size == 32 and vae.kind != "conv" and not vae.work_size:
        fit = replace(fit, vae=replace(vae, work_size=SHAPES_WORK_SIZE))
    return fit


def judge_for(case: Case, config: TrustConfig) -> Judge:
    """The independent judge of a case's CEs (another width and seed, other images) and its
    accuracy on held-out images (MNIST: the runs' held-out split; shapes: the runs' images)."""
    settings = ClassifierSettings(
        width=config.judge_width, epochs=config.judge_epochs, min_steps=config.judge_min_steps
    )
    seed = config.seed + 101
    if case.data == "shapes":
        data = colour_shapes(config.judge_images, case.size, config.seed + 2)
        held_out = colour_shapes(config.shapes_images, case.size, config.seed)
    else:
        full = load_dataset("mnist5k")
        (train, test) = stratified_split(full.labels, [0.8, 0.2], config.seed)
        data, held_out = full.subset(train), full.subset(test)
    model = fit_classifier(data.images, data.labels, data.num_classes, settings, seed)
    right = predict_probs(model, held_out.images).argmax(1) == held_out.labels
    return Judge(model, _share(right))


JUDGE_FLOOR = 0.9
"""A judge right on fewer of its held-out images than this is weak evidence."""


def weak_judges(result: TrustResult) -> list[str]:
    """A warning line for each judge below :data:`JUDGE_FLOOR` (none when all are above)."""
    return [
        f"Warning: the judge of {data} {size} px is right on only {judge.accuracy:.2f} of its "
        f"held-out images (below {JUDGE_FLOOR}): the judge validity of those runs is weak "
        "evidence, in either direction."
        for (data, size), judge in result.judges.items()
        if judge.accuracy < JUDGE_FLOOR
    ]


def same_classifier(case: Case, fit: FitSettings, donor: Case, donor_fit: FitSettings) -> bool:
    """Whether ``case`` would train exactly ``donor``'s classifier: the same images and labels,
    split and classifier settings (the VAE, flow and fail-fast settings aside)."""
    data = (case.data, case.size, case.images, case.labels)
    if data != (donor.data, donor.size, donor.images, donor.labels):
        return False
    chance = replace(fit.classifier, accept_chance=donor_fit.classifier.accept_chance)
    return replace(fit, classifier=chance, vae=donor_fit.vae, flow=donor_fit.flow) == donor_fit


def fit_case(
    case: Case,
    work: Path,
    config: TrustConfig,
    progress: bool,
    device: Any,
    donors: dict[str, tuple[Case, FitSettings]] | None = None,
) -> tuple[Run, str | None, float, str | None, bool]:
    """Fit a case as a user would; after a fail-fast stop, go on in the same run with the stop
    turned off (what was trained before the stop is kept). A new run whose classifier one of
    ``donors`` (fitted runs of the grid, by name) trained already copies it (same seed, data
    and settings: the same weights) instead of training it again; the donor's name is returned,
    and whether the run was begun by an earlier invocation (its seconds then count only what
    was left)."""
    data = case_data(case, config)
    fit = case_fit(case, config, data)
    out = work / case.name
    shared = None
    resumed = out.exists()
    if not out.exists():
        for name, (donor, donor_fit) in (donors or {}).items():
            if same_classifier(case, fit, donor, donor_fit):
                share_stages(work / name, out, ["classifier"])  # and the split
                shared = name
                break
    start = time.perf_counter()
    try:
        run = fit_run(out, fit, progress=progress, dataset=data, device=device)
        return run, None, time.perf_counter() - start, shared, resumed
    except ValueError as stop:
        if "collapsed" not in str(stop) and "chance" not in str(stop):
            raise
        message = str(stop)
    fit = override(fit, dict(STOP_OVERRIDES))
    run = fit_run(out, fit, progress=progress, dataset=data, device=device)
    return run, message, time.perf_counter() - start, shared, resumed


def run_case(
    case: Case,
    work: Path,
    config: TrustConfig,
    judges: dict[tuple[str, int], Judge],
    progress: bool = False,
    device: Any = None,
    donors: dict[str, tuple[Case, FitSettings]] | None = None,
) -> TrustRow:
    """Fit, explain and judge one case."""
    run, stopped, seconds, shared, resumed = fit_case(case, work, config, progress, device, donors)
    key = (case.data, case.size)
    if key not in judges:
        judges[key] = judge_for(case, config)
    settings = ExplainSettings(limit=config.limit, seed=config.seed)
    done = explain_run(run, settings=settings, trajectory="none")
    exp = done.explanation
    assert exp is not None
    assert run.classifier is not None
    robust = robustness(
        run.classifier, exp.x_cf, exp.target, codec=run.vae, outputs=run.outputs, seed=config.seed
    )
    judged = predict_probs(judges[key].model, exp.x_cf).argmax(1) == exp.target
    reliable = (
        math.nan
        if exp.x_reliable is None
        else _share(predict_probs(judges[key].model, exp.x_reliable).argmax(1) == exp.target)
    )
    valid = exp.valid
    evidence = {
        **robust.summary(),
        "fragile": _share(valid & ~robust.robust),
        "collapsed": _share(collapsed(exp.x_cf, exp.x, exp.target, seed=config.seed)),
        "judge_validity_of_robust": _share(judged[robust.robust]),
        "judge_validity_of_fragile": _share(judged[valid & ~robust.robust]),
    }
    return TrustRow(
        case,
        stopped,
        run.verdict,
        _share(valid),
        robust.summary()["robust_validity"],
        _share(judged),
        evidence,
        run.summary,
        seconds,
        shared,
        resumed,
        reliable,
    )


def run_trust(
    work: str | Path,
    config: TrustConfig = TrustConfig(),
    device: Any = None,
    progress: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> TrustResult:
    """Every case of ``config`` under ``work`` (runs are reused when fitted before; a new run
    copies the classifier of an earlier case of the grid that trained the same one)."""
    start = time.perf_counter()
    result = TrustResult(config)
    donors: dict[str, tuple[Case, FitSettings]] = {}
    for name in config.cases:
        say(f"trust: {name} ({(time.perf_counter() - start) / 60:.1f} min)")
        case = case_by_name(name)
        row = run_case(case, Path(work), config, result.judges, progress, device, donors)
        result.rows.append(row)
        donors[name] = (case, case_fit(case, config, case_data(case, config)))
    result.seconds = time.perf_counter() - start
    return result


DEMO = "demo-defaults"
"""The run the target "the demo run trusted" is measured on (the grid's half-width ``demo``
when it is not in the grid)."""


def targets(result: TrustResult) -> dict[str, Any]:
    """The issue's targets, measured on each CE of :data:`JUDGED`: trusted runs the judge
    rejects, good runs and those of them marked untrusted (a run without that CE counts in
    neither); and the demo's level."""
    levels = {r.case.name: _level(r) for r in result.rows}
    out: dict[str, Any] = {}
    for kind, attr in JUDGED.items():
        judged = {r.case.name: float(getattr(r, attr)) for r in result.rows}
        good = [name for name, v in judged.items() if v >= GOOD]
        out[kind] = {
            "trusted_below_floor": [
                name
                for name, v in judged.items()
                if levels[name] == "trusted" and v < TRUSTED_FLOOR
            ],
            "good": len(good),
            "good_untrusted": [name for name in good if levels[name] == "untrusted"],
        }
    out["demo"] = levels.get(DEMO, levels.get("demo"))
    return out


def resumed_note(result: TrustResult) -> str:
    """Which runs an earlier, interrupted invocation began (their time before is not in the
    page's total nor in their fit seconds); empty when none."""
    names = [r.case.name for r in result.rows if r.resumed]
    if not names:
        return ""
    return (
        f" Runs begun by an earlier, interrupted invocation of this command and resumed here "
        f"(their time before it is in neither their fit seconds nor the total): "
        f"{', '.join(names)}."
    )


def unmet_line(floor: dict[str, bool], alarms: dict[str, bool | None], demo: bool) -> str:
    """The page's first line: which of the issue's targets this grid does not meet on which
    CE of :data:`JUDGED` (``alarms`` None: not tested on that CE), or that it meets them all."""
    missed = [
        f"a run marked trusted has a judge validity below {TRUSTED_FLOOR} ({kind})"
        for kind, ok in floor.items()
        if not ok
    ]
    missed += [
        f"too many runs of judge validity >= {GOOD} are marked untrusted ({kind})"
        for kind, ok in alarms.items()
        if ok is False
    ]
    missed += [] if demo else ["the demo run is not trusted"]
    untested = [
        f"the false-alarm target is not tested on the {kind} (no run reached judge validity "
        f"{GOOD} with it)"
        for kind, ok in alarms.items()
        if ok is None
    ]
    if not missed and not untested:
        return "Every target below is met at this seed (one seed: see the limits)."
    return "Targets not met: " + "; ".join([*missed, *untested]) + "."


def _level(row: TrustRow) -> str:
    return row.verdict.level if row.verdict is not None else "no verdict"


def _share(mask: Tensor) -> float:
    return float(mask.float().mean()) if mask.numel() else math.nan


def _met(met: bool) -> str:
    return "met" if met else "not met"


def _cell(value: float) -> str:
    return "–" if value != value else f"{value:.2f}"


RUNS_HEADLINE = (
    "verdict",
    "judge validity",
    "judge validity, reliable CE",
    "validity",
    "robust validity",
)
"""The columns of the runs table right after the run's name: the verdict and what judges it."""


def write_trust_page(result: TrustResult, stem: str | Path, command: str) -> Path:
    """``STEM.md``: the targets, then one row per run."""
    page = Path(stem).with_suffix(".md")
    met = targets(result)
    names = {r.case.name for r in result.rows}
    pairs = agreement_table(result)
    full = ", ".join(r.case.name for r in result.rows if r.case.full_width)
    floor_met: dict[str, bool] = {}
    alarms_met: dict[str, bool | None] = {}
    summary = []
    for kind in JUDGED:
        m = met[kind]
        good, alarms, below = m["good"], m["good_untrusted"], m["trusted_below_floor"]
        floor_met[kind] = not below
        alarms_met[kind] = len(alarms) <= FALSE_ALARMS * good if good else None
        summary += [
            f"- Runs marked trusted whose judge validity ({kind}) is below {TRUSTED_FLOOR}: "
            f"{len(below)} ({', '.join(below) or 'none'}; target: none): "
            f"**{_met(floor_met[kind])}**.",
            f"- Runs with judge validity ({kind}) of at least {GOOD} marked untrusted: "
            f"{len(alarms)} of {good} ({', '.join(alarms) or 'none'}; target: at most "
            f"{FALSE_ALARMS:.0%}): "
            + (
                f"**{_met(bool(alarms_met[kind]))}**."
                if good
                else "**not tested** (no run that good)."
            ),
        ]
    summary.append(
        f"- The demo run ({DEMO if DEMO in names else 'demo'}): {met['demo']} (target: "
        f"trusted): **{_met(met['demo'] == 'trusted')}**."
    )
    runs = []
    for r in result.rows:
        reasons = ", ".join(f"{c.name} {c.status}" for c in r.verdict.reasons) if r.verdict else "–"
        stop = (
            "–" if r.stopped is None else ("probe" if "collapsed" in r.stopped else "chance check")
        )
        runs.append(
            {
                "run": r.case.name,
                "what is weakened": r.case.what,
                "stopped by": stop,
                "verdict": _level(r),
                "failed / caution checks": reasons or "–",
                "validity": _cell(r.validity),
                "robust validity": _cell(r.robust_validity),
                "judge validity": _cell(r.judge_validity),
                "judge validity, reliable CE": _cell(r.reliable_judge_validity),
                "fit (s)": f"{r.fit_seconds:.0f}{' (resumed)' if r.resumed else ''}",
                "classifier copied from": r.shared or "–",
            }
        )
    table = markdown_table(runs, lead=RUNS_HEADLINE)
    keys = [
        "kept_after_round_trip",
        "kept_after_blur",
        "kept_after_noise",
        "fragile",
        "collapsed",
        "judge_validity_of_robust",
        "judge_validity_of_fragile",
    ]
    evidence = [
        "| run | " + " | ".join(k.replace("_", " ") for k in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for r in result.rows:
        evidence.append(
            f"| {r.case.name} | "
            + " | ".join(_cell(r.evidence.get(k, math.nan)) for k in keys)
            + " |"
        )
    checks = sorted({c.name for r in result.rows if r.verdict for c in r.verdict.checks})
    values = ["| run | " + " | ".join(checks) + " |", "|---|" + "---|" * len(checks)]
    for r in result.rows:
        by = {c.name: c for c in r.verdict.checks} if r.verdict else {}
        values.append(
            f"| {r.case.name} | "
            + " | ".join(
                "–"
                if name not in by or by[name].value is None
                else f"{by[name].value:.3g} ({by[name].status})"
                for name in checks
            )
            + " |"
        )
    judges = ", ".join(
        f"{data} {size} px {_cell(j.accuracy)}" for (data, size), j in result.judges.items()
    )
    config = result.config
    return write_page(
        page,
        "Trust before validity: the run verdict against an independent judge",
        command,
        f"mnist5k (28 px grey digits, 10 classes) and colour shapes ({config.shapes_images} "
        f"images, 4 classes); per run, {config.limit} held-out images explained toward a random "
        "other class",
        result.seconds,
        [
            unmet_line(floor_met, alarms_met, met["demo"] == "trusted"),
            f"Limits: {len(result.rows)} runs at one seed, {config.limit} CEs per run (a "
            f"share is known to about +-{0.5 / math.sqrt(config.limit):.2f}); the models at "
            f"half the default widths but in {full or 'no case'} (the default widths); the "
            "32 px "
            f"shapes' residual VAE works at {SHAPES_WORK_SIZE} px (default: 32); a run whose "
            "classifier an earlier run of the grid trained with the same data, seed and settings "
            "copies it (the same weights). Aimed at 40 minutes on a 2-core machine shared with "
            f"other jobs (it took {result.seconds / 60:.0f}; the issue allows an hour on an "
            "idle one): fewer runs, CEs and pixels than that allows; the cases left out are "
            "listed by `python -m paper trust --help`." + resumed_note(result),
            seed_line(config.seed),
            f"Judge: a CNN of width {config.judge_width}, another seed, "
            f"{config.judge_epochs} epoch(s) or {config.judge_min_steps} optimiser steps if "
            "more, trained on the MNIST training split or on "
            f"{config.judge_images} colour shapes of another seed; judge validity = the judge "
            "puts the CE in its target class, measured on the plain CE (what the loop returns "
            "first, validity's CE) and on the reliable CE (after injection; the report shows "
            "both), each target on each: a target met on one CE only is not met. Judges' "
            f"held-out accuracy: {judges or '–'}.",
            *weak_judges(result),
            f"Thresholds: {THRESHOLDS}",
        ],
        [
            ("Targets", summary),
            ("Runs", table),
            *([("The agreement term, on and off", pairs)] if len(pairs) > 2 else []),
            ("The checks of each verdict", values),
            ("Evidence per CE", evidence),
        ],
    )


AGREEMENT_PAIRS = (("demo", "agreement"), ("shapes-32", "shapes-32-agreement"))
"""Runs that differ only in ``vae.agreement`` (0 and 0.01)."""


def agreement_table(result: TrustResult) -> list[str]:
    """The runs of each :data:`AGREEMENT_PAIRS` side by side: the codec's SSIM and agreement
    on reconstructions, validity, robust validity and judge validity."""
    rows = {r.case.name: r for r in result.rows}
    lines = [
        "| run | vae.agreement | codec SSIM | agreement on reconstructions | validity "
        "| robust validity | judge validity |",
        "|---|---|---|---|---|---|---|",
    ]
    for pair in AGREEMENT_PAIRS:
        if not set(pair) <= set(rows):
            continue
        for name, weight in zip(pair, ("0", "0.01"), strict=True):
            r = rows[name]
            lines.append(
                f"| {name} | {weight} | {_cell(r.summary.get('vae_test_ssim', math.nan))} | "
                f"{_cell(r.summary.get('classifier_agreement_on_reconstructions', math.nan))} "
                f"| {_cell(r.validity)} | {_cell(r.robust_validity)} | "
                f"{_cell(r.judge_validity)} |"
            )
    return lines
