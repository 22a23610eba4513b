"""The audit and repair jobs of a fitted run, resumable, as ``leapfactual audit`` / ``repair``.

:func:`audit_run` explains a sample of the run's images toward every other class
(LeapFactual's minimal CEs), audits their necessity, summarises it per (source, target)
pair and per class, and writes a page. :func:`repair_run` runs CFKD
(:func:`~leapfactual.audit.cfkd.cfkd`) on the run's classifier with a teacher and compares
the classifier before and after on a test set. Each part is written as soon as it is done
and a second call with the same arguments skips it; an output directory of another job is
refused (``force`` starts over).

Audit layout: ``audit.json`` (the job), ``explanation/``, ``necessity.*``, ``summary.json``
(the run's verdict, pair rows, per-class findings, reliance on each candidate), ``audit.md``,
``audit.html`` (the same page, self-contained) and ``necessity.png``. Repair layout: the
CFKD directory (``cfkd.json``, ``round-K/``, ``classifier.*``), ``answers.jsonl`` (the human
teacher's), ``audit/`` (the audit before the repair), ``run/`` (the repaired run),
``audit-after/`` (the audit of the repaired run, whose reliance figures the verdict reads),
``repair.json``, ``repair.md`` and ``repair.html``.
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.audit.cfkd import CFKDResult, cfkd, refitting_factory
from leapfactual.audit.cfkd import summary_lines as cfkd_lines
from leapfactual.audit.checks import (
    Candidate,
    CandidateReliance,
    after_repair,
    candidates,
    check_teacher,
    load_candidates,
    measure_candidates,
    model_labeller,
    reliance_measure,
    relied_on,
    repair_verdict,
    teacher_labeller,
)
from leapfactual.audit.html import write_page_html
from leapfactual.audit.ignore import TeacherFromAudit, ignore_teacher
from leapfactual.audit.necessity import Necessity, necessity, necessity_map
from leapfactual.audit.options import AUDIT_LIMIT, CFKDSettings
from leapfactual.audit.regions import Mode, grid_cells
from leapfactual.audit.repaired import CANDIDATES, record_verdict, write_repaired_run
from leapfactual.audit.summary import PairSummary, summarise, summary_table
from leapfactual.audit.teacher_server import HumanTeacher
from leapfactual.audit.teachers import ModelTeacher, RuleTeacher, Teacher
from leapfactual.audit.transplant import (
    CONCENTRATED,
    DOSES,
    GLOBAL,
    GLOBAL_AREA,
    NEEDED,
    NEEDED_RULE,
    RELIANT,
    SPECIFIC,
    Finding,
    class_findings,
    edit_findings,
    merge_findings,
    places,
)
from leapfactual.data import Dataset, load_dataset, load_image_inputs
from leapfactual.explain import Blend, Explanation
from leapfactual.io import (
    LOCK_NAME,
    check_free,
    clear,
    exclusive,
    kept_note,
    load_module,
    parse_json,
    refuse_link,
    write_json,
)
from leapfactual.models import load_classifier
from leapfactual.pipeline import (
    ExplainSettings,
    FitSettings,
    Run,
    explain_run,
    load_run,
    predict_probs,
    to_dict,
    verdict_headline,
)
from leapfactual.report import write_page

logger = logging.getLogger(__name__)

AUDIT = "audit.json"
ANSWERS = "answers.jsonl"
"""The human teacher's answers in a repair directory (kept by ``force``)."""
AUDIT_FILES = (
    AUDIT,
    "explanation",
    "necessity.*",
    "summary.json",
    "audit.md",
    "audit.html",
    "necessity.png",
)
REPAIR_FILES = (
    "cfkd.json",
    "round-*",
    "classifier.*",
    "repair.json",
    "repair.md",
    "repair.html",
    "audit",
    "audit-after",
    "run",
)
"""What an audit / repair job writes: all that ``force`` removes (never a person's answers)."""
TEACHERS = ("rule", "model", "human")


# -- shared measurements --------------------------------------------------------------------
def class_accuracies(model: Callable[[Tensor], Any], data: Dataset) -> Tensor:
    """Accuracy of ``model`` on each class of ``data`` ``[K]`` (NaN for a class without
    images)."""
    pred = predict_probs(model, data.images).argmax(1)
    out = torch.full((data.num_classes,), float("nan"))
    for k in range(data.num_classes):
        mine = data.labels == k
        if bool(mine.any()):
            out[k] = (pred[mine] == k).float().mean()
    return out


def top_region_cells(nec: Necessity, grid: int = 4) -> Tensor:
    """The ``grid`` x ``grid`` cell (row-major) holding most of each CE's most-needed region
    (largest drop) ``[B]``; -1 for a CE without regions."""
    cells = grid_cells(nec.regions.shape[1], nec.regions.shape[2], grid).flatten()
    top = nec.drop.nan_to_num(-torch.inf).argmax(1) + 1
    region = (nec.regions == top[:, None, None]).flatten(1).float()  # [B, H*W]
    counts = torch.zeros(len(nec), grid * grid).index_add_(1, cells, region)
    return torch.where(nec.count > 0, counts.argmax(1), -1)


# -- audit ---------------------------------------------------------------------------------
@dataclass
class AuditResult:
    """The audited CEs, their necessity, the pair summaries, per-class findings, the
    audited model's reliance on each shortcut candidate, the candidates with the changes their
    transplants copy, and, for a repaired run, reliance on each candidate of the audit before
    the repair (``kept``)."""

    explanation: Explanation
    necessity: Necessity
    summaries: list[PairSummary]
    findings: list[Finding]
    reliance: list[CandidateReliance]
    candidates: list[Candidate]
    kept: list[CandidateReliance]
    verdict: dict[str, Any] | None
    out: Path
    page: Path
    skipped: list[str]
    seconds: float


def audit_run(
    run: Run | str | Path,
    out: str | Path,
    *,
    images: str | list[str] = "test",
    limit: int = AUDIT_LIMIT,
    per_class: int | None = None,
    seed: int = 0,
    regions: Mode = "components",
    grid: int = 4,
    blend: Blend = Blend(),
    force: bool = False,
    device: str | torch.device | None = None,
    command: str = "",
    log: Callable[[str], None] = logger.info,
) -> AuditResult:
    """Audit the run's classifier on ``limit`` of its ``images`` (``test`` / ``train``, or
    files; :func:`audit_inputs` picks them, balanced over the classes where they are known, or
    ``per_class`` of each) explained toward every other class; write everything to ``out``
    (see the module docstring) and return it. Parts already in ``out`` for the same job are
    reused. The model's reliance on each shortcut candidate is measured on the run's test
    split; in a repaired run (:func:`~leapfactual.audit.repaired.write_repaired_run`) also on
    each candidate of the audit before the repair, with the same transplants."""
    start = time.perf_counter()
    fitted = run if isinstance(run, Run) else load_run(Path(run), device=device or "cpu")
    if device is not None:
        fitted.to(device)
    fitted.require("classifier", "vae", "flow")
    folder = Path(out)
    job = {
        "kind": "audit",
        "run": str(fitted.directory.resolve()),
        "classifier": fitted.classifier_identity,
        "settings": {"images": images, "limit": limit, "per_class": per_class, "seed": seed,
                     "regions": regions, "grid": grid, "blend": asdict(blend)},
    }  # fmt: skip
    if force:
        refuse_link(folder)
    check_free(folder)  # a running job is named before anything is touched
    with exclusive(folder, "audit"):
        _claim(folder, job, AUDIT, force, log)
        skipped = []
        if (folder / "explanation" / "explanation.safetensors").is_file():
            exp = Explanation.load(folder / "explanation")
            skipped.append("explanation")
        else:
            chosen = audit_inputs(fitted, images, limit, per_class)
            log(f"explaining {len(chosen)} {images} images toward every other class")
            settings = ExplainSettings(
                blend=blend, inject=None, target="all-others", limit=0, seed=seed
            )
            done = explain_run(
                fitted, folder / "explanation", images=chosen, settings=settings, force=True,
                trajectory="none",
            )  # fmt: skip
            assert done.explanation is not None
            exp = done.explanation
        if (folder / "necessity.safetensors").is_file():
            nec = Necessity.load(folder)
            skipped.append("necessity")
        else:
            log(f"necessity of {len(exp)} CEs")
            assert fitted.classifier is not None
            nec = necessity(
                fitted.classifier, exp.x, exp.x_cf, exp.target, exp.source, regions=regions,
                grid=grid, outputs=fitted.outputs,
            )  # fmt: skip
            nec.save(folder)
        summaries = summarise(exp, nec, grid=grid)
        findings = merge_findings(
            class_findings(exp, nec, fitted.class_names, grid),
            edit_findings(exp, nec, fitted.class_names),
        )
        assert fitted.classifier is not None
        test = fitted.test
        label = {"model": model_labeller(fitted.classifier, fitted.outputs)}
        bounds = data_bounds(fitted)
        pairs = candidates(exp, nec, findings, label["model"], bounds, grid)
        relied = measure_candidates(label, pairs, test.images, test.labels, bounds)
        stem = fitted.directory / CANDIDATES
        inherited = load_candidates(stem) if stem.with_suffix(".safetensors").is_file() else []
        kept = measure_candidates(label, inherited, test.images, test.labels, bounds)
        verdict = run_verdict(fitted)
        summary = {
            "verdict": verdict,
            "pairs": summary_table(summaries),
            "pair_parts": pair_parts(exp, nec, grid),
            "classes": [f.as_dict() for f in findings],
            "candidates": [r.as_dict() for r in relied],
            "candidates_before_repair": [r.as_dict() for r in kept],
        }
        write_json(folder / "summary.json", no_nan(summary), indent=2)
        seconds = time.perf_counter() - start
        result = AuditResult(
            exp, nec, summaries, findings, relied, pairs, kept, verdict, folder,
            folder / "audit.md", skipped, seconds,
        )  # fmt: skip
        write_audit_page(fitted, result, command, grid)
        return result


def audit_inputs(
    run: Run, images: str | list[str], limit: int, per_class: int | None = None
) -> Tensor:
    """The images an audit explains. Where their classes are known (the run's ``test`` /
    ``train`` split, a class-folder tree): ``per_class`` of each class, or else ``limit``
    (0: all) taken one class after another (each class's first image, then each class's
    second, ...), so that a sorted tree does not give one class only. Otherwise the first
    ``limit``; ``per_class`` then needs labels."""
    if isinstance(images, str) and images in ("test", "train"):
        split = getattr(run, images)
        x, labels = split.images, split.labels
    else:
        channels, size, _ = run.image_shape
        x, _, labels = load_image_inputs(images, size=size, channels=channels)
    if labels is None:
        if per_class is not None:
            raise ValueError(
                "--per-class needs images of known classes: the run's split (test, train) or "
                "a class-folder tree DIR/CLASS/*.png; use --limit for other images"
            )
        return x[:limit] if limit else x
    rank = torch.zeros_like(labels)
    for k in labels.unique():
        mine = labels == k
        rank[mine] = torch.arange(int(mine.sum()))
    order = sorted(range(len(labels)), key=lambda i: (int(rank[i]), int(labels[i]), i))
    if per_class is not None:
        order = [i for i in order if int(rank[i]) < per_class]
    elif limit:
        order = order[:limit]
    return x[torch.tensor(order, dtype=torch.long)]


def data_bounds(run: Run) -> tuple[float, float]:
    """The range of the run's training images (transplants are kept within it)."""
    images = run.train.images
    return float(images.min()), float(images.max())


def run_verdict(run: Run) -> dict[str, Any] | None:
    """The run's verdict as ``run.json`` holds it (``{"level", "checks"}``), None when the run
    has none (read defensively: a run may predate verdicts)."""
    stored = run.meta.get("verdict")
    if not isinstance(stored, dict) or not isinstance(stored.get("level"), str):
        return None
    checks = stored.get("checks")
    return {"level": stored["level"], "checks": checks if isinstance(checks, list) else []}


def verdict_lines(verdict: dict[str, Any] | None) -> list[str]:
    """A run's verdict (:func:`run_verdict`) for the top of an audit page: its level and
    every check that did not pass, with its fix; "not recorded" when the run has none."""
    if verdict is None:
        return ["Run verdict: not recorded (the run holds none; refit it to get one)."]
    level = verdict["level"]
    lines = [f"Run verdict: {level}."]
    if level == "untrusted":
        lines[0] += (
            " The audit explains CEs of this run: where its codec or flow is weak, the needed "
            "changes found here describe their artefacts, not the classifier."
        )
    for check in verdict["checks"]:
        if isinstance(check, dict) and check.get("status", "pass") != "pass":
            name = check.get("title") or check.get("name", "a check")
            lines.append(f"- {name}: {check.get('message', '')}; fix: {check.get('fix', '')}")
    return lines


def pair_parts(exp: Explanation, nec: Necessity, grid: int = 4) -> list[dict[str, Any]]:
    """Per (source, target) pair with valid CEs: the place (as the headline names it,
    :func:`~leapfactual.audit.transplant.places`) of the most-needed part named most often,
    and its share of the pair's valid CEs."""
    named = places(nec, grid)
    valid = exp.valid.cpu()
    pairs: dict[tuple[int, int], dict[str, int]] = {}
    for i in valid.nonzero().flatten().tolist():
        if named[i]:
            key = (int(exp.source[i]), int(exp.target[i]))
            counts = pairs.setdefault(key, {})
            counts[named[i]] = counts.get(named[i], 0) + 1
    out = []
    for (source, target), counts in sorted(pairs.items()):
        place = min(counts, key=lambda p: (-counts[p], p))
        out.append({"source": source, "target": target, "place": place,
                    "share": counts[place] / sum(counts.values())})  # fmt: skip
    return out


def write_audit_page(run: Run, result: AuditResult, command: str, grid: int = 4) -> Path:
    """``out/audit.md`` (and ``out/necessity.png``): the run's verdict, where the needed
    changes sit per class, the model's reliance on each candidate, the pair table and the
    mean necessity and change maps per class."""
    exp, nec, out = result.explanation, result.necessity, result.out
    names = run.class_names
    side = nec.regions.shape[1]
    cell = side // grid
    concentrated = [f for f in result.findings if f.share >= CONCENTRATED]
    suspects = [f for f in concentrated if f.outside]
    head = [
        *verdict_lines(result.verdict),
        "",
        f"Each CE's change is split into global edits (brightness, contrast, colour, blur) "
        f"where they carry a real share of it, and connected regions of the rest; the "
        f"*most-needed* part is the one whose reversal lowers the target probability most. "
        f"Places: `global: EDIT` for an edit, `global` for a region over "
        f"{GLOBAL_AREA:.0%} of the image, else a cell of a {grid} x {grid} grid (rRcC: row R, "
        f"column C, about {cell} pixels a side, r0c0 top left).",
        "",
    ]
    if suspects:
        head += [
            "**Shortcut candidates**: the classifier needs one change off the objects (a "
            "global edit, or a cell where the inputs are mostly empty) in most CEs toward "
            "(or from) these classes, as their most-needed part or, for global edits, as a "
            f"part whose removal undoes at least {NEEDED:.0%} of them (and {SPECIFIC:.0%} more "
            "than of the CEs toward other classes). Check what the CEs put there (maps below) "
            "and whether the true rule needs it:",
            "",
            *(f"- {_finding(f)}" for f in suspects),
            "",
        ]
    else:
        head += ["No class needs one change off the objects in most of its CEs.", ""]
    others = [f for f in concentrated if not f.outside]
    if others:
        head += [
            f"On the objects, the most-needed part is one place in at least {CONCENTRATED:.0%} "
            "of the CEs of:",
            "",
            *(f"- {_finding(f)}" for f in others),
        ]
    relied = [
        f"Each candidate's change copied from the CEs that needed it into held-out test images "
        f"of other classes (a candidate *from* a class reversed: what its CEs took away, put "
        f"on; a global edit at the smallest multiple, up to {DOSES[-1]:g}x, that alone moved "
        f"each CE's own input: its sufficient dose); reliance: the share the classifier then "
        f"moves to the candidate's class (at least {RELIANT:.0%}: it relies on it).",
        "",
        "| candidate | class | images | reliance |",
        "|---|---|---|---|",
        *(f"| {r.finding.label} | {_side(r.finding)} | {r.counted['model']} | "
          f"{_fmt(r.values['model'])} |" for r in result.reliance),
    ]  # fmt: skip
    if result.kept:
        relied += [
            "",
            "This run was repaired: reliance on each candidate of the audit before the repair, "
            "the same changes copied into the same held-out images as then.",
            "",
            "| candidate before the repair | class | images | reliance |",
            "|---|---|---|---|",
            *(f"| {r.finding.label} | {_side(r.finding)} | {r.counted['model']} | "
              f"{_fmt(r.values['model'])} |" for r in result.kept),
        ]  # fmt: skip
    parts = {(p["source"], p["target"]): p for p in pair_parts(exp, nec, grid)}
    table = [
        "| source → target | CEs | valid | mean COUT | minimal smaller | most-needed part |",
        "|---|---|---|---|---|---|",
    ]
    for row in summary_table(result.summaries):
        part = parts.get((row["source"], row["target"]))
        where = "-" if part is None else f"{_place(part['place'])} ({part['share']:.0%})"
        table.append(
            f"| {names[row['source']]} → {names[row['target']]} | {row['count']} | "
            f"{row['validity']:.2f} | {row['mean_cout']:.3f} | {row['minimal_smaller']:.2f} | "
            f"{where} |"
        )
    figure = plot_class_maps(exp, nec, names, out / "necessity.png")
    page = write_page(
        out / "audit.md",
        "Audit: which changes the classifier needs",
        command or f"leapfactual audit {run.directory} --out {out}",
        f"run `{run.directory}` ({run.config.data}); {len(exp)} CEs (LeapFactual, blending "
        f"only) of {len(torch.unique(exp.x, dim=0))} images toward every other class, "
        f"{int(exp.valid.sum())} valid.",
        result.seconds,
        [f"Necessity: {json.dumps(nec.config)}", *_codec_lines(run)],
        [
            ("Where the needed change sits", head),
            (
                "Reliance on each candidate",
                relied if result.reliance or result.kept else ["No candidate."],
            ),
            (
                "Maps",
                [
                    "Per class: mean necessity of the valid CEs toward it and from it (each pixel "
                    "painted with its region's drop; a global edit's drop is not painted), and "
                    "their mean signed change toward it. Colour scales at the right of each row.",
                    "",
                    f"![necessity maps]({figure.name})",
                ],
            ),
            ("Per pair (places as in the headline)", table),
        ],
    )
    write_page_html(page)
    return page


def _place(place: str) -> str:
    return place if place.startswith(GLOBAL) else f"cell {place}"


def _side(f: Finding) -> str:
    return f"{f.direction} {f.name}"


def _finding(f: Finding) -> str:
    if f.rule == NEEDED_RULE:
        return f"{f.direction} {f.name}: {f.label} taken out undoes {f.share:.0%} of {f.ces} CEs"
    return f"{f.direction} {f.name}: {f.label} in {f.share:.0%} of {f.ces} CEs"


def _codec_lines(run: Run) -> list[str]:
    agreement = run.summary.get("classifier_agreement_on_reconstructions")
    lines = [] if agreement is None else [
        f"Codec: the classifier agrees with itself on {agreement:.0%} of held-out VAE "
        "reconstructions; a feature the VAE drops appears in no CE, so no audit can find it."
    ]  # fmt: skip
    return [verdict_headline(run.verdict), *lines] + [f"Warning: {w}" for w in run.warnings]


def plot_class_maps(exp: Explanation, nec: Necessity, names: list[str], path: Path) -> Path:
    """Three rows, one column per class: mean necessity toward it, from it, mean change
    toward it; each row with its colour scale."""
    from leapfactual.report import figure

    maps = necessity_map(nec)[:, 0]
    change = (exp.x_cf - exp.x).float().mean(1).cpu()
    valid = exp.valid.cpu()
    k = len(names)
    fig = figure(figsize=(1.3 * k + 0.8, 4.2))
    axes = fig.subplots(3, k, squeeze=False)
    rows = (
        ("needed toward", maps, exp.target, "magma", (0.0, 1.0), "drop in p(target)"),
        ("needed from", maps, exp.source, "magma", (0.0, 1.0), "drop in p(target)"),
        ("change toward", change, exp.target, "coolwarm", (-0.5, 0.5), "x' - x"),
    )
    for r, (label, values, classes, cmap, (low, high), unit) in enumerate(rows):
        shown = None
        for c in range(k):
            ax = axes[r][c]
            mine = valid & (classes.cpu() == c)
            image = values[mine].mean(0) if bool(mine.any()) else torch.zeros(values.shape[1:])
            shown = ax.imshow(image.numpy(), cmap=cmap, vmin=low, vmax=high)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
        bar = fig.colorbar(shown, ax=list(axes[r]), fraction=0.02, pad=0.02)
        bar.ax.tick_params(labelsize=6)
        bar.set_label(unit, fontsize=6)
    fig.savefig(path, dpi=100)
    return path


# -- repair ---------------------------------------------------------------------------------
@dataclass
class RepairResult:
    """The CFKD result, the scores before and after on the test set, the reliance on each
    candidate of the audit before the repair (``teacher``, ``before``, ``after``), the verdict
    and its reason, and the repaired run."""

    cfkd: CFKDResult
    before: dict[str, Any]
    after: dict[str, Any]
    reliance: list[CandidateReliance]
    verdict: str
    reason: str
    run: Path
    out: Path
    page: Path
    seconds: float


def make_teacher(
    kind: str,
    run: Run,
    spec: str | None = None,
    *,
    ignore_region: str | None = None,
    answers: str | Path | None = None,
    port: int = 0,
    open_browser: bool = False,
    device: str | torch.device = "cpu",
) -> Teacher | TeacherFromAudit:
    """The teacher ``kind`` for ``run``: ``rule`` (``spec``: a classifier spec, e.g. a
    Python entry point, whose argmax is the true label), ``model`` (``spec``: ``oracle`` for
    the run's oracle stage, a module checkpoint such as ``OTHER_RUN/classifier``, or a
    classifier spec; default ``oracle``) or ``human`` (a page on 127.0.0.1 saving to
    ``answers``). ``ignore_region`` (rule only, instead of ``spec``): the run's classifier
    with a mask, a box or the audit's candidates reverted
    (:func:`~leapfactual.audit.ignore.ignore_teacher`; for ``candidate`` a builder that
    :func:`repair_run` calls once its audit is done)."""
    if ignore_region is not None and (kind != "rule" or spec):
        raise ValueError(
            "--ignore-region makes the rule teacher: use it with --teacher rule and without "
            "--teacher-spec"
        )
    if ignore_region is not None:
        run.require("classifier")
        assert run.classifier is not None
        return ignore_teacher(run.classifier, ignore_region, run.image_shape[1:])
    if kind == "human":
        if answers is None:
            raise ValueError("the human teacher needs a file for its answers (answers=...)")
        return HumanTeacher(answers, port=port, open_browser=open_browser)
    if kind == "rule":
        if not spec:
            raise ValueError(
                "the rule teacher needs the rule: --ignore-region (a mask, a box or "
                "'candidate') or --teacher-spec package.module:function (a callable images -> "
                "[B, K] scores; its argmax is the true class)"
            )
        return RuleTeacher(load_classifier(spec, device=device).model)
    if kind == "model":
        return ModelTeacher(_teacher_model(run, spec or "oracle", device))
    raise ValueError(f"unknown teacher {kind!r}; choose one of {list(TEACHERS)}")


def _teacher_model(run: Run, spec: str, device: str | torch.device) -> Callable[[Tensor], Any]:
    if spec == "oracle":
        if run.oracle is None:
            raise ValueError(
                f"run {run.directory} has no oracle; fit one (`{refit_command(run, 'oracle')}`; "
                "trained on the same data, it shares any confound) or give --teacher-spec"
            )
        return run.oracle
    stem = Path(spec).with_suffix("") if spec.endswith(".safetensors") else Path(spec)
    if stem.with_name(stem.name + ".safetensors").is_file():
        return load_module(stem, device)
    return load_classifier(spec, device=device).model


def refit_command(run: Run, stages: str) -> str:
    """The ``leapfactual fit`` line that adds ``stages`` to ``run`` and works as printed: the
    run's data and every setting that differs from the defaults (``fit`` refuses a run
    directory with other settings)."""
    ours, base = _leaves(to_dict(run.config)), _leaves(to_dict(FitSettings()))
    sets = [f"{k}={_toml(v)}" for k, v in ours.items() if k != "data" and base.get(k) != v]
    words = ["leapfactual", "fit", "--out", str(run.directory), "--data", run.config.data,
             "--stages", stages, *(w for s in sets for w in ("--set", s))]  # fmt: skip
    return shlex.join(words)


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _toml(value: Any) -> str:
    return "none" if value is None else json.dumps(value)


def repair_run(
    run: Run | str | Path,
    out: str | Path,
    teacher: Teacher | TeacherFromAudit,
    settings: CFKDSettings | None = None,
    *,
    test: Dataset | str | None = None,
    audit_limit: int = AUDIT_LIMIT,
    allow_shortcut_teacher: bool = False,
    force: bool = False,
    device: str | torch.device | None = None,
    command: str = "",
    log: Callable[[str], None] = logger.info,
) -> RepairResult:
    """Repair the run's classifier by CFKD with ``teacher`` (or the teacher a
    :data:`~leapfactual.audit.ignore.TeacherFromAudit` builds from the audit) and check the
    repair.

    1. audit the run (``audit_limit`` test images, ``out/audit``) for shortcut candidates;
    2. the teacher check (:func:`~leapfactual.audit.checks.check_teacher`): a teacher that
       relies on a candidate is refused unless ``allow_shortcut_teacher`` (a person is not
       checked);
    3. CFKD (rounds written to ``out`` as they are done; a second call continues);
    4. accuracy, worst-class and per-class accuracy before and after on ``test`` (a dataset,
       a ``load_dataset`` spec, or None: the run's test split);
    5. the repaired classifier as a run (``out/run``), which ``audit``, ``explain`` and
       ``report`` take as they take any run;
    6. the audit of the repaired run (``out/audit-after``, same seed and ``audit_limit``,
       loaded from disk as a user's ``leapfactual audit`` loads it): reliance on each
       candidate on the run's held-out test split, on the same transplants as before and on
       the new audit's own candidates (:func:`~leapfactual.audit.checks.after_repair`), and
       the verdict (:func:`~leapfactual.audit.checks.repair_verdict`) from those numbers, so
       that a re-audit with the same seed reproduces them.
    """
    start = time.perf_counter()
    settings = settings if settings is not None else CFKDSettings()
    fitted = run if isinstance(run, Run) else load_run(Path(run), device=device or "cpu")
    if device is not None:
        fitted.to(device)
    fitted.require("classifier", "vae", "flow")
    if not isinstance(fitted.classifier, nn.Module) or fitted.meta.get("classifier_source"):
        raise ValueError(
            "repair fine-tunes the run's classifier, but this run explains a user classifier "
            "loaded from a file; fit a run with its own classifier"
        )
    folder = Path(out)
    if force:
        refuse_link(folder)
    check_free(folder)
    with exclusive(folder, "repair"):
        data = _test_data(fitted, test)  # a bad --test removes nothing
        others = [k for k in clear(folder, REPAIR_FILES) if k != ANSWERS] if force else []
        if others:
            log(kept_note(folder, others))
        audited = audit_run(
            fitted, folder / "audit", limit=audit_limit, seed=settings.seed, device=device,
            log=log,
        )  # fmt: skip
        exp, nec, bounds = audited.explanation, audited.necessity, data_bounds(fitted)
        if not isinstance(teacher, Teacher):  # --ignore-region candidate
            teacher = teacher(exp, nec, relied_on(audited.reliance))
        name = type(teacher).__name__
        checked = {} if isinstance(teacher, HumanTeacher) else {
            "teacher": teacher_labeller(teacher, fitted.class_names)
        }  # fmt: skip
        pairs, held = audited.candidates, fitted.test
        pre = measure_candidates(checked, pairs, held.images, held.labels, bounds)
        for row in pre:
            if "teacher" in row.values:
                share = _fmt(row.values["teacher"], ".0%")
                f, n = row.finding, row.counted["teacher"]
                log(f"teacher check: {f.phrase}: {share} of {n} images move")
        if not allow_shortcut_teacher:
            check_teacher(pre, name)
        measure = None
        if settings.until_stable:  # refused here, before any training, where nothing relied
            measure = reliance_measure(audited.reliance, pairs, held.images, held.labels, bounds)
        factory = refitting_factory(
            fitted.vae, fitted.train.images, fitted.config.flow, fitted.config.seed + 2,
            outputs=fitted.outputs, device=fitted.device, inject=None, batch_size=512,
        )  # fmt: skip
        result = cfkd(
            fitted.classifier, factory, fitted.train, teacher, settings, directory=folder,
            device=device, reliance=measure, log=log,
        )  # fmt: skip
        before = _scores(fitted.classifier, data)
        after = _scores(result.classifier, data)
        origin = {"run": str(fitted.directory.resolve()), "teacher": result.teacher,
                  "verdict": "not measured"}  # fmt: skip
        log("fitting the repaired classifier's flow (out/run)")
        repaired = write_repaired_run(
            fitted, result.classifier, folder / "run", origin,
            after_run_accuracy(fitted, result), pairs,
        )  # fmt: skip
        log("auditing the repaired run (out/audit-after): the verdict's measurements")
        again = audit_run(
            load_run(repaired, fitted.dataset, device=device or "cpu"), folder / "audit-after",
            limit=audit_limit, seed=settings.seed, force=True, device=device, log=log,
        )  # fmt: skip
        for old, teacher_row in zip(audited.reliance, pre, strict=True):
            old.values.update(teacher_row.values)
            old.counted.update(teacher_row.counted)
        rows = after_repair(audited.reliance, again.kept, again.reliance)
        verdict, reason = repair_verdict(rows)
        record_verdict(repaired, verdict)
        record = {
            "run": str(fitted.directory.resolve()),
            "repaired_run": str(repaired.resolve()),
            "teacher": result.teacher,
            "teacher_check": "overridden" if allow_shortcut_teacher else (
                "passed" if checked else "not checked (a person)"),
            "settings": to_dict(settings),
            "test": data.name,
            "verdict": verdict,
            "reason": reason,
            "audit_seed": settings.seed,
            "audit_limit": audit_limit,
            "reliance": [r.as_dict() for r in rows],
            "labels_used": result.labels_used,
            "kept_source": result.kept_source,
            "before": before,
            "after": after,
            "history": [{k: v for k, v in r.items() if k != "losses"} for r in result.history],
        }  # fmt: skip
        write_json(folder / "repair.json", no_nan(record), indent=2)
        seconds = time.perf_counter() - start
        page = write_repair_page(fitted, result, record, data, folder, command, seconds)
        return RepairResult(
            result, before, after, rows, verdict, reason, repaired, folder, page, seconds
        )


def after_run_accuracy(run: Run, result: CFKDResult) -> float:
    """The repaired classifier's accuracy on the run's own test split."""
    test = run.test
    pred = predict_probs(result.classifier, test.images).argmax(1)
    return float((pred == test.labels).float().mean())


def write_repair_page(
    run: Run,
    result: CFKDResult,
    record: dict[str, Any],
    data: Dataset,
    out: Path,
    command: str,
    seconds: float,
) -> Path:
    """``out/repair.md``: the verdict first, reliance on each candidate before and after, the
    scores before and after, per class, and the rounds."""
    names = run.class_names
    before, after = record["before"], record["after"]
    verdict = [
        f"**Verdict: {record['verdict']}** ({record['reason']}).",
        "",
        f"Teacher check: {record['teacher_check']}.",
        "",
        f"Reliance: each shortcut candidate of the audit before the repair (`{out / 'audit'}`) "
        f"copied into held-out test images of other classes (the run's test split; a candidate "
        f"from a class reversed: what its CEs took away, put on); the share moved to the "
        f"candidate's class (a model relies on it from {RELIANT:.0%}). After the "
        f"repair it is read from the audit of the repaired run (`{out / 'audit-after'}`): on "
        f"the same changes copied into the same images (*same changes*) and on the changes of "
        f"the repaired model's own CEs at that place (*own CEs*, where its audit still finds "
        f"the candidate); the verdict takes the larger. `leapfactual audit {out / 'run'} --out "
        f"DIR --limit {record['audit_limit']} --seed {record['audit_seed']}` measures them "
        f"again.",
        "",
        "| candidate | class | images | teacher | before | after: same changes | "
        "after: own CEs | after (verdict) |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {r['candidate']['label']} | {r['candidate']['direction']} "
          f"{r['candidate']['name']} | "
          f"{r['counted'].get('after', 0)} | {_fmt(r['reliance'].get('teacher'), '.0%')} | "
          f"{_fmt(r['reliance'].get('before'), '.0%')} | "
          f"{_fmt(r['reliance'].get('after_same'), '.0%')} | "
          f"{_fmt(r['reliance'].get('after_own'), '.0%')} | "
          f"{_fmt(r['reliance'].get('after'), '.0%')} |" for r in record["reliance"]),
        "",
        f"The repaired model is a run: `{out / 'run'}`; its audit is `{out / 'audit-after'}`.",
    ]  # fmt: skip
    table = [
        "| | accuracy | worst-class accuracy | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for label, s in (("before", before), ("after CFKD", after)):
        per_class = " | ".join(_fmt(v) for v in s["per_class"])
        table.append(f"| {label} | {s['accuracy']:.3f} | {s['worst_class']:.3f} | {per_class} |")
    kept = result.kept_source
    rounds = [
        f"The teacher ({result.teacher}) labelled {result.labels_used} CEs; {kept} kept their "
        "source class (the teacher judged their change a shortcut). How many did says nothing "
        "about the repaired model's reliance: that is the table above.",
        "",
        *(f"- {line}" for line in cfkd_lines(result.history)),
    ]
    page = write_page(
        out / "repair.md",
        "Repair by counterfactual knowledge distillation",
        command or f"leapfactual repair {run.directory} --out {out}",
        f"run `{run.directory}` ({run.config.data}); test set `{data.name}` "
        f"({len(data)} images).",
        seconds,
        [f"CFKD settings: {json.dumps(to_dict(result.settings))}",
         f"Repaired classifier: `{out / 'classifier.safetensors'}`."],
        [("Verdict and reliance", verdict), ("Accuracy before and after", table),
         ("Rounds", rounds)],
    )  # fmt: skip
    write_page_html(page)
    return page


def _scores(model: Callable[[Tensor], Any], data: Dataset) -> dict[str, Any]:
    per_class = class_accuracies(model, data)
    pred = predict_probs(model, data.images).argmax(1)
    present = per_class[~per_class.isnan()]
    return {
        "accuracy": float((pred == data.labels).float().mean()),
        "worst_class": float(present.min()),
        "per_class": per_class.tolist(),
    }


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None or value != value else format(value, spec)


def _test_data(run: Run, test: Dataset | str | None) -> Dataset:
    if isinstance(test, Dataset):
        return test
    if test is None:
        return run.test
    data = load_dataset(test)
    if data.shape != run.image_shape:
        raise ValueError(
            f"test data {test!r} has images of shape {data.shape}, the run {run.image_shape}"
        )
    return data


def _claim(
    folder: Path, job: dict[str, Any], name: str, force: bool, log: Callable[[str], None]
) -> None:
    """Make ``folder`` this job's: a folder of another job is refused unless ``force``
    (which removes what an audit writes and names what it keeps)."""
    path = folder / name
    if force and folder.exists():
        kept = clear(folder, AUDIT_FILES)
        if kept:
            log(kept_note(folder, kept))
    held = [p for p in folder.iterdir() if p.name != LOCK_NAME] if folder.exists() else []
    if not path.is_file() and held and not force:
        raise ValueError(
            f"{folder} is not empty and holds no {name}; choose another --out or add --force"
        )
    if path.is_file():
        old = parse_json(path.read_bytes(), path)
        if old != json.loads(json.dumps(job)):
            diff = sorted(k for k in job if old.get(k) != job[k])
            raise ValueError(
                f"{folder} holds another {job['kind']} job ({', '.join(diff)} differ); choose "
                "another --out, or add --force to start over"
            )
    folder.mkdir(parents=True, exist_ok=True)
    write_json(path, job, indent=2)


def no_nan(value: Any) -> Any:
    """``value`` with every NaN float as None (JSON has no NaN), through dicts and lists."""
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [no_nan(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


__all__ = [
    "AUDIT_FILES",
    "REPAIR_FILES",
    "TEACHERS",
    "AuditResult",
    "RepairResult",
    "audit_run",
    "class_accuracies",
    "data_bounds",
    "make_teacher",
    "no_nan",
    "pair_parts",
    "repair_run",
    "run_verdict",
    "top_region_cells",
    "verdict_lines",
    "write_audit_page",
    "write_repair_page",
]
