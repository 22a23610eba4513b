"""Shortcut benchmark: the audit and the repair as a user runs them, on digits with a planted
shortcut (known truth).

Per seed, two tasks made by :func:`~leapfactual.data.confounded.confounded_digits`:

- **patch**: a run (``leapfactual fit``'s stages: VAE, classifier, oracle, flow) on the
  registered ``confounded`` digits (a bright corner patch on 95 % of one class's training
  images, none on the others; the run's seed varies its split and every model, the patch draw is
  the registry's). Then ``leapfactual repair`` twice, as a user would: first with the default
  teacher (``--teacher model``: the run's oracle, trained on the same confounded data), which
  the teacher check should refuse; then with a clean teacher, the rule ``--ignore-region
  candidate`` (the model itself, shown each CE with the audit's candidate put back), at the
  default CFKD settings. The control: a patch-blind classifier (trained on the decorrelated
  images: the patch on half of every class) measured on the same transplants. The repaired run
  is then audited again as ``leapfactual audit RUN`` does (:func:`~leapfactual.audit.audit_run`
  on the run directory), and its figures compared with those the repair's verdict was read from.
  Ground truth beside the verdict: the share of the decorrelated test set's clean images whose
  prediction changes when the patch is painted on (*flips*).
- **tint**: the strokes of one class's training images tinted red (a global, non-local
  shortcut). A tint-reliant run (trained on those images) and a tint-blind run (trained on the
  decorrelated images: the tint on half of every class) are audited; the audit's verdict calls
  a model tint-reliant when it lists a global-edit candidate toward the tinted class that the
  model relies on (transplant reliance at least :data:`~leapfactual.audit.RELIANT`).

:func:`run_shortcuts` computes (and keeps each seed's rows in ``parts``);
:func:`write_shortcuts_page` writes the page, led by what limits it, with the issue's targets
computed and stated met or not.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from leapfactual.audit import (
    AUDIT_LIMIT,
    CANDIDATES,
    NEEDED,
    RELIANT,
    SPECIFIC,
    CFKDSettings,
    Finding,
    audit_run,
    data_bounds,
    load_candidates,
    make_teacher,
    measure_candidates,
    model_labeller,
    repair_run,
)
from leapfactual.data import ConfoundedTask, Dataset, confounded_digits, load_dataset
from leapfactual.explain import Explanation
from leapfactual.io import write_json
from leapfactual.pipeline import (
    ClassifierSettings,
    FitSettings,
    Run,
    VAESettings,
    fit_run,
    predict_probs,
    to_dict,
)
from paper.experiments._shared import LEAN, model_settings, verdict_words
from paper.pages import write_page
from paper.tables import markdown_table

MODELS = replace(
    LEAN,
    vae=VAESettings(kind="conv", latent_dim=32, width=16, epochs=12, min_steps=0),
    classifier=ClassifierSettings(width=16, epochs=8, min_steps=0),
    flow=replace(LEAN.flow, min_steps=0),
    oracle=ClassifierSettings(width=16, epochs=8, min_steps=0),
)
"""The reliability experiments' lean models with a 32-d conv VAE (the 16-d one dropped the
patch), every stage at its epochs (no minimum of optimiser steps: sized for a busy CPU)."""
CLASS = 8
"""The class the registered confounded digits mark (their default)."""
TARGET_RELIANCE = 0.1
"""The issue's target: flips below this share after a repair with a clean teacher."""


@dataclass(frozen=True)
class ShortcutsConfig:
    """``base``: the digits (a ``load_dataset`` spec) both tasks draw from; ``seeds``: one
    repetition each (the patch run's seed, the tint task's draw and both tint runs');
    ``audit_limit``: test images each audit explains toward every other class (the audit's
    default, as a user runs it); ``cfkd``: the
    repair's settings (default: ``leapfactual repair``'s); ``models``: run settings
    (``data`` and ``seed`` are set per task and seed)."""

    base: str = "mnist5k"
    seeds: tuple[int, ...] = (0, 1, 2)
    audit_limit: int = AUDIT_LIMIT
    cfkd: CFKDSettings = field(default_factory=CFKDSettings)
    models: FitSettings = MODELS

    def __post_init__(self) -> None:
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"give at least one seed and no repeats, got {self.seeds}")
        if self.audit_limit < 1:
            raise ValueError(f"audit_limit must be positive, got {self.audit_limit}")


@dataclass
class ShortcutsResult:
    """One row per seed (see :func:`run_seed`) and the time taken."""

    config: ShortcutsConfig
    rows: list[dict[str, Any]]
    seconds: float


# -- measurements ---------------------------------------------------------------------------
def flips(model: Callable[[torch.Tensor], Any], task: ConfoundedTask) -> float:
    """Share of the decorrelated test set's clean images whose predicted class changes when
    the nuisance is added (the ground truth of reliance)."""
    clean = task.test_clean.images
    before = predict_probs(model, clean).argmax(1)
    after = predict_probs(model, task.add_nuisance(clean)).argmax(1)
    return float((before != after).float().mean())


def accuracy(model: Callable[[torch.Tensor], Any], data: Dataset) -> float:
    pred = predict_probs(model, data.images).argmax(1)
    return float((pred == data.labels).float().mean())


def tint_verdict(rows: Sequence[Any], klass: int) -> tuple[bool, str]:
    """Whether an audit's reliance rows (``CandidateReliance``) call the model tint-reliant:
    a global-edit candidate toward ``klass`` relied on from :data:`RELIANT`; and what the
    audit listed, in words."""
    listed = [f"{r.finding.phrase}: {r.values['model']:.0%}" for r in rows]
    reliant = any(
        r.finding.klass == klass
        and r.finding.toward
        and r.finding.place.startswith("global")
        and r.values["model"] >= RELIANT
        for r in rows
    )
    return reliant, "; ".join(listed) or "no candidate"


def colour_needed(
    model: Callable[[torch.Tensor], Any], exp: Explanation, klass: int
) -> tuple[float | None, float | None]:
    """Ground truth for the tint: the mean probability of ``klass`` on the valid CEs toward
    it, and on the same CEs with their colour taken out (each pixel's channels set to their
    mean); None without such CEs."""
    mine = (exp.target.cpu() == klass) & exp.valid.cpu()
    if not bool(mine.any()):
        return None, None
    x_cf = exp.x_cf.detach().cpu()[mine]
    grey = x_cf.mean(1, keepdim=True).expand_as(x_cf)
    p = predict_probs(model, x_cf)[:, klass].mean()
    return float(p), float(predict_probs(model, grey)[:, klass].mean())


def blind_control(cfg: ShortcutsConfig, seed: int, folder: Path, run: Run, repaired: Path,
                  task: ConfoundedTask) -> dict[Finding, float]:  # fmt: skip
    """A patch-blind classifier's reliance on each candidate the repair measured (kept with
    the ``repaired`` run), on the same transplants into the run's test images."""
    config = replace(cfg.models, data=f"confounded patch, decorrelated (seed {seed})", seed=seed)
    blind = fit_run(
        folder / "patch-blind", config, ("classifier",), dataset=task.train_decorrelated
    )
    assert blind.classifier is not None
    pairs = load_candidates(repaired / CANDIDATES)
    label = {"blind": model_labeller(blind.classifier)}
    test = run.test
    rows = measure_candidates(label, pairs, test.images, test.labels, data_bounds(run))
    return {r.finding: r.values["blind"] for r in rows}


def run_patch(cfg: ShortcutsConfig, seed: int, folder: Path, log: Callable[[str], None],
              task: ConfoundedTask) -> dict[str, Any]:  # fmt: skip
    """The patch task of one seed: fit, the default-teacher repair (refused?), the repair with
    the rule teacher, the re-audit of the repaired run; the row."""
    spec = f"confounded:{cfg.base}"
    config = replace(cfg.models, data=spec, seed=seed)
    log(f"seed {seed}: patch run (vae, classifier, oracle, flow)")
    run = fit_run(folder / "run", config, stages=("vae", "classifier", "oracle", "flow"))
    assert isinstance(run.classifier, nn.Module)
    settings = replace(cfg.cfkd, seed=seed)
    test = f"confounded-test:{cfg.base}"
    out = folder / "repair"
    row: dict[str, Any] = {
        "seed": seed, "verdict_patch": verdict_words(run),
        "accuracy": accuracy(run.classifier, task.test),
        "flips": flips(run.classifier, task), "test_images": len(task.test),
        "p_train": task.settings["p_train"], "patch_size": task.patch_size,
    }  # fmt: skip
    log(f"seed {seed}: repair with the default teacher (the run's oracle)")
    try:
        oracle = repair_run(run, out, make_teacher("model", run), settings, test=test,
                            audit_limit=cfg.audit_limit, log=log)  # fmt: skip
        row.update(oracle_refused=False, oracle_message=f"verdict {oracle.verdict}")
    except ValueError as error:
        row.update(oracle_refused="shares the shortcut" in str(error), oracle_message=str(error))
    log(f"seed {seed}: repair with the rule teacher (--ignore-region candidate)")
    if not row["oracle_refused"]:  # its rounds are in `out`: the rule repair starts afresh
        out = folder / "repair-rule"
    try:
        teacher = make_teacher("rule", run, ignore_region="candidate")
        done = repair_run(run, out, teacher, settings, test=test, audit_limit=cfg.audit_limit,
                          log=log)  # fmt: skip
    except ValueError as error:  # no candidate to ignore
        row.update(verdict="not run", reason=str(error))
        return row
    after = done.cfkd.classifier
    control = blind_control(cfg, seed, folder, run, done.run, task)
    row.update(
        verdict=done.verdict, reason=done.reason, labels=done.cfkd.labels_used,
        cfkd_seconds=sum(r["seconds"] for r in done.cfkd.history),
        rounds=len(done.cfkd.history), accuracy_after=accuracy(after, task.test),
        flips_after=flips(after, task), worst_before=done.before["worst_class"],
        worst_after=done.after["worst_class"],
        reliance=[{"label": r.finding.label, "name": r.finding.name,
                   "direction": r.finding.direction, **r.values,
                   "blind": control.get(r.finding)} for r in done.reliance],
    )  # fmt: skip
    log(f"seed {seed}: the repaired run audited again, as `leapfactual audit` does")
    again = audit_run(
        done.run, folder / "reaudit", limit=cfg.audit_limit, seed=seed, force=True, log=log
    )  # a fresh audit each time: the repaired run is written anew on every call
    ours = json.loads((out / "audit-after" / "summary.json").read_text(encoding="utf-8"))
    theirs = json.loads((again.out / "summary.json").read_text(encoding="utf-8"))
    row["reaudit_agrees"] = ours == theirs
    row["reaudit_command"] = (
        f"leapfactual audit {done.run} --out DIR --limit {cfg.audit_limit} --seed {seed}"
    )
    return row


def run_tint(cfg: ShortcutsConfig, seed: int, folder: Path, log: Callable[[str], None],
             base: Dataset) -> dict[str, Any]:  # fmt: skip
    """The tint task of one seed: a tint-reliant and a tint-blind run, each audited."""
    task = confounded_digits(base, "tint", seed=seed)
    row: dict[str, Any] = {}
    for name, data in (("reliant", task.train), ("blind", task.train_decorrelated)):
        log(f"seed {seed}: tint-{name} run and its audit")
        config = replace(cfg.models, data=f"confounded tint ({name}, seed {seed})", seed=seed)
        run = fit_run(folder / f"tint-{name}", config, dataset=data)
        row[f"verdict_tint_{name}"] = verdict_words(run)
        audited = audit_run(run, folder / f"tint-{name}-audit", limit=cfg.audit_limit, seed=seed)
        reliant, listed = tint_verdict(audited.reliance, CLASS)
        assert run.classifier is not None
        with_colour, greyed = colour_needed(run.classifier, audited.explanation, CLASS)
        row.update({
            f"tint_{name}_flagged": reliant, f"tint_{name}_listed": listed,
            f"tint_{name}_flips": flips(run.classifier, task),
            f"tint_{name}_p_ces": with_colour, f"tint_{name}_p_greyed": greyed,
        })  # fmt: skip
    row["tint_told_apart"] = row["tint_reliant_flagged"] and not row["tint_blind_flagged"]
    return row


def run_seed(cfg: ShortcutsConfig, seed: int, folder: Path, log: Callable[[str], None],
             base: Dataset) -> dict[str, Any]:  # fmt: skip
    """Both tasks of one seed, in ``folder`` (runs, repairs, audits); the row."""
    start = time.perf_counter()
    task = confounded_digits(base, "patch", seed=0)  # the registered confounded digits
    row = run_patch(cfg, seed, folder, log, task)
    row.update(run_tint(cfg, seed, folder, log, base))
    row["seconds"] = time.perf_counter() - start
    return row


def run_shortcuts(
    cfg: ShortcutsConfig, folder: str | Path, log: Callable[[str], None] = lambda _: None
) -> ShortcutsResult:
    """Every seed, its runs and audits in ``folder/seedS``; a seed whose row is kept there
    for the same configuration (the other seeds aside) is reused."""
    start = time.perf_counter()
    base = load_dataset(cfg.base)
    identity = json.loads(json.dumps(asdict(replace(cfg, seeds=(0,))), default=str))
    rows = []
    for seed in cfg.seeds:
        where = Path(folder) / f"seed{seed}"
        kept = where / "row.json"
        if kept.is_file():
            record = json.loads(kept.read_text(encoding="utf-8"))
            if record.get("config") == identity:
                log(f"seed {seed}: already done in {where}")
                rows.append(record["row"])
                continue
        row = run_seed(cfg, seed, where, log, base)
        write_json(kept, {"config": identity, "row": _finite(row)})
        rows.append(_finite(row))
    return ShortcutsResult(cfg, rows, time.perf_counter() - start)


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


# -- the page -------------------------------------------------------------------------------
def targets(result: ShortcutsResult) -> list[tuple[str, str, bool]]:
    """The issue's targets: (target, what was measured, met)."""
    rows = result.rows
    n = len(rows)
    low = [r.get("flips_after") for r in rows]
    below = sum(1 for v in low if v is not None and v < TARGET_RELIANCE)
    need = math.ceil(2 * n / 3)
    refused = sum(1 for r in rows if r["oracle_refused"])
    apart = sum(1 for r in rows if r["tint_told_apart"])
    agree = sum(1 for r in rows if r.get("reaudit_agrees"))
    return [
        (f"flips below {TARGET_RELIANCE:.0%} after a default repair with a clean teacher in "
         f"at least {need} of {n} seeds", f"{below} of {n} (" + ", ".join(
             "-" if v is None else f"{v:.3f}" for v in low) + ")", below >= need),
        ("the confounded oracle refused in every seed", f"{refused} of {n}", refused == n),
        ("the tint model told apart from a tint-blind one in every seed", f"{apart} of {n}",
         apart == n),
        ("a repaired model audited by one command, reproducing the repair's figures",
         f"{agree} of {n}", agree == n),
    ]  # fmt: skip


CHOICES = (
    (
        "the audit's size (20 test images, raised to the audit's own default, 50); the "
        "transplant's sufficient dose for a global edit (designed on seed 0, whose tint model's "
        "candidate moved 17 % of other digits at both sizes); the joining of an edit specific "
        "to a class to a needed one (designed on seeds 1 and 5, whose colour edit was needed "
        "by fewer than half of the CEs toward 8 at 50 images and left out of the candidate); "
        "and the dose's ceiling, the CE's own change (designed on seed 2, whose patch model's "
        "`global: contrast` toward 1 moved 49 % of other digits dosed without it)",
        frozenset(range(6)),
    ),
    (
        "CFKD's default of 4 rounds (was 3: under 10 % flips in 5 of 9 seeds; continued to 6 "
        "rounds, every seed but the missed seed 6 fell under 10 % at the fourth)",
        frozenset(range(9)),
    ),
    (
        "candidates from a class, transplanted reversed (designed on seed 6, whose patch the "
        "audit had missed; the reversal chosen on seeds 0 and 6), CFKD's counterexamples "
        "(after a run of all 12 seeds without them, where seed 6 was not repaired) and the "
        "verdict's count of candidates risen past the line (after seeds 2 and 3 read "
        "`repaired` with one)",
        frozenset(range(12)),
    ),
)
"""Choices of this benchmark's settings and the library's rules made after seeing some seeds'
results, each with the seeds seen, a range (docs/design-notes.md)."""


def _seen(rows: Sequence[dict[str, Any]]) -> str:
    """The page's line on which of its seeds saw which choice ("" if none did)."""
    seeds = [r["seed"] for r in rows]
    seen = [s for s in seeds if any(s in saw for _, saw in CHOICES)]
    if not seen:
        return ""
    fresh = [s for s in seeds if s not in seen]
    said = "; ".join(f"{what}, after seeing seeds {min(saw)}-{max(saw)}" for what, saw in CHOICES)
    return (
        f"{_seeds(seen)} {'is' if len(seen) == 1 else 'are'} not blind to choices made after "
        f"seeing them: {said}. "
        + (f"{_seeds(fresh)} {'was' if len(fresh) == 1 else 'were'} first run after all were "
           "fixed." if fresh else "No seed here is blind to them.")
    )  # fmt: skip


def _seeds(seeds: Sequence[int]) -> str:
    return f"Seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _in_parts(command: str, seed: int, stem: str | Path) -> str:
    """``command`` with the seed's folder named under ``STEM.parts`` (where the page keeps it),
    whatever folder the row was made in."""
    marker = f"seed{seed}/"
    words = [
        f"{stem}.parts/{marker}{w.split(marker, 1)[1]}" if marker in w else w
        for w in command.split(" ")
    ]
    return " ".join(words)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def write_shortcuts_page(result: ShortcutsResult, stem: str | Path, command: str) -> Path:
    """Write ``STEM.md`` (the page) and ``STEM.json`` (every row); return the page."""
    page = Path(stem).with_suffix(".md")
    page.parent.mkdir(parents=True, exist_ok=True)
    cfg, rows = result.config, result.rows
    payload = {"config": asdict(cfg), "rows": rows, "seconds": result.seconds}
    write_json(page.with_suffix(".json"), _finite(payload), indent=2, default=str)
    c = cfg.cfkd
    limits = [
        f"- {_verdicts(rows)}",
        *(
            f"- **Not met**: {t}: {m}{_misses(rows) if 'tint' in t else ''}."
            for t, m, ok in targets(result)
            if not ok
        ),
        *(
            f"- Seed {r['seed']}: the repair's verdict is `{r['verdict']}`: {r['reason']}."
            for r in rows
            if r["verdict"] in ("partly", "not repaired")
        ),
        *(
            f"- Seed {r['seed']}: the audit found no shortcut candidate the model relies on, so "
            "neither the teacher check nor the repair ran, though painting the patch changes "
            f"{r['flips']:.1%} of its predictions: a shortcut the audit missed."
            for r in rows
            if r["verdict"] == "not run"
        ),
        f"- {len(rows)} seeds, lean models on a 2-core CPU (below); every figure is one "
        "seed's, none is an average. Sized for the machine: the models are small and "
        f"short-trained; the audits explain {cfg.audit_limit} test images each.",
        *([f"- {seen}"] if (seen := _seen(rows)) else []),
        "- The patch runs share one patch draw (the registered `confounded` digits); a seed "
        "changes the run's split and every model and CFKD draw, not which images carry the "
        "patch.",
        "- The clean teacher is the rule `--ignore-region candidate` (the model itself shown "
        "each CE with the audit's candidate put back): it is clean only as far as the audit "
        "found the right candidate. A model teacher trained without the confound and the human "
        "teacher are not run here (the tests exercise them).",
        "- The tint is audited, not repaired.",
        "- Times: fits, CFKD rounds and audits already on disk are resumed (the library's own "
        "resume, checked against the settings), so a seed's time counts only the work this "
        "call did; CFKD (s) is the rounds' own time, recorded when each ran.",
        f"- Transplant reliance counts at most 200 held-out images per candidate; flips (ground "
        f"truth) count the {rows[0]['test_images'] if rows else 0} clean images of the "
        "decorrelated test set.",
    ]
    table = [
        "| target | measured | met |",
        "|---|---|---|",
        *(f"| {t} | {m} | {'met' if ok else 'not met'} |" for t, m, ok in targets(result)),
    ]
    teacher = [
        "`leapfactual repair RUN --teacher model` (the default teacher, the run's oracle, "
        "trained on the same confounded data): the teacher check's answer.",
        "",
        "| seed | refused | message |",
        "|---|---|---|",
        *(f"| {r['seed']} | {'yes' if r['oracle_refused'] else 'no'} | "
          f"{r['oracle_message'].replace('|', '/')} |" for r in rows),
    ]  # fmt: skip
    repair = [
        f"`leapfactual repair RUN --teacher rule --ignore-region candidate` at the default "
        f"settings ({c.rounds} rounds of {c.per_round} images, {c.epochs} epochs). Reliance "
        f"by transplant on each candidate the model relied on before or after the repair (its "
        f"change copied into images "
        f"of other classes, the share moved to the class; a candidate from 8, reversed: what "
        f"its CEs took away, painted on): before; the control, a patch-blind classifier "
        f"(trained on the decorrelated images) on the same transplants; after on the same "
        f"changes; after on the repaired model's own CEs (its audit); the verdict takes the "
        f"larger. Flips: the patch painted on clean decorrelated test images. Accuracy: "
        f"decorrelated test set.",
        "",
    ]
    repairs = []
    for r in rows:
        relied = [x for x in r.get("reliance", []) if _relied(x)]
        repairs.append(
            {
                "seed": str(r["seed"]),
                "verdict": r["verdict"],
                "run verdict": r.get("verdict_patch", "not recorded"),
                "candidates": _each(relied, lambda x: f"{x['label']} {_side(x)}"),
                "before": _each(relied, lambda x: _pct(x.get("before"))),
                "patch-blind model": _each(relied, lambda x: _pct(x.get("blind"))),
                "after: same": _each(relied, lambda x: _pct(x.get("after_same"))),
                "after: own": _each(relied, lambda x: _pct(x.get("after_own"))),
                "flips before": _num(r["flips"]),
                "flips after": _num(r.get("flips_after")),
                "accuracy before": _num(r["accuracy"]),
                "accuracy after": _num(r.get("accuracy_after")),
                "labels": str(r.get("labels", "-")),
                "CFKD (s)": f"{r.get('cfkd_seconds', 0):.0f}",
                "re-audit agrees": "yes" if r.get("reaudit_agrees") else "no",
            }
        )
    repair += markdown_table(repairs, lead=("verdict", "re-audit agrees")) if repairs else []
    repair += ["", *(f"- seed {r['seed']}: {r['reason']}" for r in rows)]
    if rows and rows[0].get("reaudit_command"):
        command0 = _in_parts(rows[0]["reaudit_command"], rows[0]["seed"], stem)
        repair += ["", f"Re-audit (seed {rows[0]['seed']}): `{command0}`."]
    tints = [
        {
            "seed": str(r["seed"]),
            "tint model: verdict": _reliant(r["tint_reliant_flagged"]),
            "tint model: run verdict": r.get("verdict_tint_reliant", "not recorded"),
            "tint model: candidates (reliance)": r["tint_reliant_listed"],
            "tint model: flips": _num(r["tint_reliant_flips"]),
            "tint model: p(8) of its CEs toward 8, greyed": _pair(r, "reliant"),
            "tint-blind model: verdict": _reliant(r["tint_blind_flagged"]),
            "tint-blind model: run verdict": r.get("verdict_tint_blind", "not recorded"),
            "tint-blind model: candidates (reliance)": r["tint_blind_listed"],
            "tint-blind model: flips": _num(r["tint_blind_flips"]),
            "tint-blind model: p(8) of its CEs toward 8, greyed": _pair(r, "blind"),
            "told apart": "yes" if r["tint_told_apart"] else "no",
        }
        for r in rows
    ]
    tint = [
        f"The audit calls a model tint-reliant when it lists a global-edit candidate toward "
        f"class {CLASS} that the model relies on (transplant reliance at least {RELIANT:.0%}; "
        "each donor's edit copied at the smallest multiple that alone moved its own input to "
        "the class: docs/method.md §10).",
        "",
        *(markdown_table(tints, lead=("told apart",)) if tints else []),
        "",
        "Flips: share of clean decorrelated test images whose prediction changes when the tint "
        "is added (ground truth). p(8) of its CEs toward 8, greyed: the model's mean "
        "probability of class 8 on the valid CEs toward 8 of its audit, then on the same CEs "
        "with every pixel's channels set to their mean (the colour taken out): where it "
        "falls, the CEs need the colour. A global edit is a candidate toward a class where "
        f"taking it out of the CEs undoes at least {NEEDED:.0%} of those toward the class and "
        f"{SPECIFIC:.0%} more than of those toward the other classes, even where it is not "
        "each CE's most-needed part (a tint holds a small share of a change that redraws the "
        "strokes); with it, every edit specific to the class, transplanted together at each "
        "donor's sufficient dose.",
    ]  # fmt: skip
    return write_page(
        page,
        "Shortcuts: auditing and repairing a confounded classifier",
        command,
        f"`{cfg.base}` digits; patch: a bright {_first(rows, 'patch_size')} px corner patch on "
        f"{_first(rows, 'p_train')} of the training images of class {CLASS} and none of the "
        f"others (the registered `confounded` data); tint: the strokes of class {CLASS}'s "
        "training images tinted red on as many.",
        result.seconds,
        [
            f"Seeds: {', '.join(str(r['seed']) for r in rows)}; time per seed, when its row "
            "was made: "
            + ", ".join(f"{r['seconds'] / 60:.1f} min" for r in rows)
            + f" ({sum(r['seconds'] for r in rows) / 60:.1f} min in all; the total below is "
            "this call's, which reuses the rows on disk).",
            f"CFKD: {json.dumps(to_dict(c))}.",
            f"Models: {json.dumps(model_settings(cfg.models))}; oracle "
            f"{json.dumps(to_dict(cfg.models.oracle))}.",
        ],
        [
            ("What limits these results", limits),
            ("Targets", table),
            ("The default teacher", teacher),
            ("Repair with a clean teacher", repair),
            ("The tint: a non-local shortcut", tint),
        ],
    )


RUNS = ("patch", "tint_reliant", "tint_blind")
"""The runs of a seed whose verdicts a row records (``verdict_patch``, ...)."""


def _verdicts(rows: Sequence[dict[str, Any]]) -> str:
    """The page's first line: the runs' own verdicts (how far any CE of theirs is trusted)."""
    said = [r.get(f"verdict_{k}") for r in rows for k in RUNS]
    known = [v for v in said if v]
    levels = {level: sum(1 for v in known if v.split(" ")[0] == level)
              for level in ("trusted", "caution", "untrusted", "unknown")}  # fmt: skip
    reasons: dict[str, int] = {}
    for v in known:
        for name in v.partition("(")[2].rstrip(")").split(", ") if "(" in v else ():
            reasons[name] = reasons.get(name, 0) + 1
    counts = ", ".join(f"{n} {level}" for level, n in levels.items() if n and level != "trusted")
    why = "; ".join(f"{name} in {n}" for name, n in sorted(reasons.items()))
    return (
        f"Run verdicts (the library's checks of each run's codec, classifier, flow and "
        f"training): {levels['trusted']} of {len(said)} runs trusted"
        + (f", {counts} ({why})" if counts else "")
        + (f", {len(said) - len(known)} not recorded" if len(known) < len(said) else "")
        + ". The benchmark trains its models without the library's minimum of optimiser steps "
        "(sized for this CPU); the tables name each run's verdict."
    )


def _relied(item: dict[str, Any]) -> bool:
    """Whether a candidate's row counts toward the repair's verdict: relied on before the
    repair or after it."""
    return any((item.get(k) or 0.0) >= RELIANT for k in ("before", "after"))


def _each(items: Sequence[dict[str, Any]], show: Callable[[dict[str, Any]], str]) -> str:
    return "; ".join(show(x) for x in items) or "-"


def _side(item: dict[str, Any]) -> str:
    return f"{item.get('direction', 'toward')} {item['name']}"


def _misses(rows: Sequence[dict[str, Any]]) -> str:
    """What the tint model's audit listed in each seed where it was not told apart."""
    missed = [r for r in rows if not r["tint_told_apart"]]
    return "" if not missed else " (" + "; ".join(
        f"seed {r['seed']}: the tint model's audit listed {r['tint_reliant_listed']}"
        + (f", the tint-blind model's {r['tint_blind_listed']}" if r["tint_blind_flagged"] else "")
        for r in missed
    ) + f"; a model relies on a candidate from {RELIANT:.0%})"  # fmt: skip


def _pair(row: dict[str, Any], name: str) -> str:
    return f"{_num(row.get(f'tint_{name}_p_ces'))} -> {_num(row.get(f'tint_{name}_p_greyed'))}"


def _first(rows: Sequence[dict[str, Any]], key: str) -> str:
    return "-" if not rows else f"{rows[0][key]:g}"


def _reliant(flagged: bool) -> str:
    return "tint-reliant" if flagged else "tint-blind"


__all__ = [
    "CLASS",
    "MODELS",
    "ShortcutsConfig",
    "ShortcutsResult",
    "accuracy",
    "flips",
    "run_seed",
    "run_shortcuts",
    "targets",
    "tint_verdict",
    "write_shortcuts_page",
]
