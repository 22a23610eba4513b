"""The audit and repair jobs of a fitted run, resumable, as ``leapfactual audit`` / ``repair``.

:func:`audit_run` explains a sample of the run's images toward every other class
(LeapFactual's minimal CEs), audits their necessity, summarises it per (source, target)
pair and per class, and writes a page. :func:`repair_run` runs CFKD
(:func:`~leapfactual.audit.cfkd.cfkd`) on the run's classifier with a teacher and compares
the classifier before and after on a test set. Each part is written as soon as it is done
and a second call with the same arguments skips it; an output directory of another job is
refused (``force`` starts over).

Audit layout: ``audit.json`` (the job), ``explanation/``, ``necessity.*``, ``summary.json``
(pair rows and per-class findings), ``audit.md`` and ``necessity.png``. Repair layout: the
CFKD directory (``cfkd.json``, ``round-K/``, ``classifier.*``), ``answers.jsonl`` (the human
teacher's), ``repair.json`` and ``repair.md``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.audit.cfkd import CFKDResult, CFKDSettings, cfkd, refitting_factory
from leapfactual.audit.cfkd import summary_lines as cfkd_lines
from leapfactual.audit.necessity import Necessity, necessity, necessity_map
from leapfactual.audit.regions import Mode, grid_cells
from leapfactual.audit.summary import PairSummary, summarise, summary_table
from leapfactual.audit.teacher_server import HumanTeacher
from leapfactual.audit.teachers import ModelTeacher, RuleTeacher, Teacher
from leapfactual.data import Dataset, load_dataset
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
    Run,
    explain_run,
    load_run,
    predict_probs,
    to_dict,
    verdict_headline,
)
from leapfactual.report import write_page

AUDIT = "audit.json"
ANSWERS = "answers.jsonl"
"""The human teacher's answers in a repair directory (kept by ``force``)."""
AUDIT_FILES = (AUDIT, "explanation", "necessity.*", "summary.json", "audit.md", "necessity.png")
REPAIR_FILES = ("cfkd.json", "round-*", "classifier.*", "repair.json", "repair.md")
"""What an audit / repair job writes: all that ``force`` removes (never a person's answers)."""
CONCENTRATED = 0.4
"""A class whose most-needed change sits in one cell in at least this share of its CEs is
listed first on the audit page (a shortcut candidate)."""
TEACHERS = ("rule", "model", "human")
EMPTY = 0.1
"""A cell is outside the objects where the median input has less than this share of the
inkiest cell's mean intensity."""


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


def class_findings(
    exp: Explanation, nec: Necessity, class_names: list[str], grid: int = 4
) -> list[dict[str, Any]]:
    """Per class and direction (CEs ``toward`` it, CEs ``from`` it): where the most-needed
    change of its valid CEs sits most often (``cell`` "rRcC" of a ``grid`` x ``grid``
    partition, its ``share`` of the CEs), how many CEs were counted, and whether that cell is
    ``outside`` the objects (the median input has less than :data:`EMPTY` of the inkiest
    cell's mean intensity there); sorted by share."""
    cells = top_region_cells(nec, grid)
    valid = exp.valid.cpu() & (cells >= 0)
    where = grid_cells(exp.x.shape[-2], exp.x.shape[-1], grid).flatten()
    per_image = torch.zeros(len(exp), grid * grid).index_add_(
        1, where, exp.x.detach().float().cpu().mean(1).flatten(1)
    ) / torch.bincount(where, minlength=grid * grid)
    ink = per_image.median(dim=0).values
    out = []
    for k, name in enumerate(class_names):
        for direction, classes in (("toward", exp.target), ("from", exp.source)):
            rows = valid & (classes.cpu() == k)
            if not bool(rows.any()):
                continue
            counts = torch.bincount(cells[rows], minlength=grid * grid)
            best = int(counts.argmax())
            out.append({
                "class": k, "name": name, "direction": direction, "ces": int(rows.sum()),
                "cell": f"r{best // grid}c{best % grid}",
                "share": float(counts[best]) / int(rows.sum()),
                "outside": bool(ink[best] < EMPTY * ink.max()),
            })  # fmt: skip
    return sorted(out, key=lambda f: (-f["share"], f["class"], f["direction"]))


# -- audit ----------------------------------------------------------------------------------
@dataclass
class AuditResult:
    """The audited CEs, their necessity, the pair summaries and per-class findings."""

    explanation: Explanation
    necessity: Necessity
    summaries: list[PairSummary]
    findings: list[dict[str, Any]]
    out: Path
    page: Path
    skipped: list[str]
    seconds: float


def audit_run(
    run: Run | str | Path,
    out: str | Path,
    *,
    images: str | list[str] = "test",
    limit: int = 50,
    seed: int = 0,
    regions: Mode = "components",
    grid: int = 4,
    blend: Blend = Blend(),
    force: bool = False,
    device: str | torch.device | None = None,
    command: str = "",
    log: Callable[[str], None] = lambda _: None,
) -> AuditResult:
    """Audit the run's classifier on ``limit`` of its ``images`` (``test`` / ``train``, or
    files) explained toward every other class; write everything to ``out`` (see the module
    docstring) and return it. Parts already in ``out`` for the same job are reused."""
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
        "settings": {"images": images, "limit": limit, "seed": seed, "regions": regions,
                     "grid": grid, "blend": asdict(blend)},
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
            log(f"explaining {limit or 'all'} {images} images toward every other class")
            settings = ExplainSettings(
                blend=blend, inject=None, target="all-others", limit=limit, seed=seed
            )
            done = explain_run(
                fitted, folder / "explanation", images=images, settings=settings, force=True,
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
        findings = class_findings(exp, nec, fitted.class_names, grid)
        summary = {"pairs": summary_table(summaries), "classes": findings}
        write_json(folder / "summary.json", no_nan(summary), indent=2)
        seconds = time.perf_counter() - start
        page = write_audit_page(
            fitted, exp, nec, summaries, findings, folder, command, seconds, grid
        )
        return AuditResult(exp, nec, summaries, findings, folder, page, skipped, seconds)


def write_audit_page(
    run: Run,
    exp: Explanation,
    nec: Necessity,
    summaries: list[PairSummary],
    findings: list[dict[str, Any]],
    out: Path,
    command: str,
    seconds: float,
    grid: int = 4,
) -> Path:
    """``out/audit.md`` (and ``out/necessity.png``): where the needed changes sit per class,
    the pair table, and the mean necessity and change maps per class."""
    names = run.class_names
    side = nec.regions.shape[1]
    cell = side // grid
    concentrated = [f for f in findings if f["share"] >= CONCENTRATED]
    suspects = [f for f in concentrated if f["outside"]]
    head = [
        f"Each CE's change is cut into connected regions; the *most-needed* region is the one "
        f"whose reversal lowers the target probability most. Cells: a {grid} x {grid} grid "
        f"over the image (rRcC: row R, column C, about {cell} pixels a side, r0c0 top left).",
        "",
    ]
    if suspects:
        head += [
            "**Shortcut candidates**: the classifier needs a change in one place, where the "
            "inputs are mostly empty, in most CEs of these classes. Check what the CEs put "
            "there (maps below) and whether the true rule needs it:",
            "",
            *(_finding(f) for f in suspects),
            "",
        ]
    else:
        head += ["No class needs a change where the inputs are mostly empty.", ""]
    others = [f for f in concentrated if not f["outside"]]
    if others:
        head += [
            f"Where the objects are, the most-needed change sits in one cell in at least "
            f"{CONCENTRATED:.0%} of the CEs of:",
            "",
            *(_finding(f) for f in others),
        ]
    table = [
        "| source → target | CEs | valid | mean COUT | minimal smaller | most needed cells |",
        "|---|---|---|---|---|---|",
    ]
    for row in summary_table(summaries):
        table.append(
            f"| {names[row['source']]} → {names[row['target']]} | {row['count']} | "
            f"{row['validity']:.2f} | {row['mean_cout']:.3f} | {row['minimal_smaller']:.2f} | "
            f"{row['most_needed'] or '-'} |"
        )
    figure = plot_class_maps(exp, nec, names, out / "necessity.png")
    return write_page(
        out / "audit.md",
        "Audit: which changes the classifier needs",
        command or f"leapfactual audit {run.directory} --out {out}",
        f"run `{run.directory}` ({run.config.data}); {len(exp)} CEs (LeapFactual, blending "
        f"only) of {len(torch.unique(exp.x, dim=0))} images toward every other class, "
        f"{int(exp.valid.sum())} valid.",
        seconds,
        [f"Necessity: {json.dumps(nec.config)}", *_codec_lines(run)],
        [
            ("Where the needed change sits", head),
            (
                "Maps",
                [
                    "Per class: mean necessity of the valid CEs toward it and from it (each pixel "
                    "painted with its region's drop), and their mean signed change toward it.",
                    "",
                    f"![necessity maps]({figure.name})",
                ],
            ),
            ("Per pair", table),
        ],
    )


def _finding(f: dict[str, Any]) -> str:
    return f"- {f['direction']} {f['name']}: cell {f['cell']} in {f['share']:.0%} of {f['ces']} CEs"


def _codec_lines(run: Run) -> list[str]:
    agreement = run.summary.get("classifier_agreement_on_reconstructions")
    lines = [] if agreement is None else [
        f"Codec: the classifier agrees with itself on {agreement:.0%} of held-out VAE "
        "reconstructions; a feature the VAE drops appears in no CE, so no audit can find it."
    ]  # fmt: skip
    return [verdict_headline(run.verdict), *lines] + [f"Warning: {w}" for w in run.warnings]


def plot_class_maps(exp: Explanation, nec: Necessity, names: list[str], path: Path) -> Path:
    """Three rows, one column per class: mean necessity toward it, from it, mean change
    toward it."""
    from leapfactual.report import figure

    maps = necessity_map(nec)[:, 0]
    change = (exp.x_cf - exp.x).float().mean(1).cpu()
    valid = exp.valid.cpu()
    k = len(names)
    fig = figure(figsize=(1.3 * k, 4.2))
    axes = fig.subplots(3, k, squeeze=False)
    rows = (
        ("needed toward", maps, exp.target, "magma", (0.0, 1.0)),
        ("needed from", maps, exp.source, "magma", (0.0, 1.0)),
        ("change toward", change, exp.target, "coolwarm", (-0.5, 0.5)),
    )
    for r, (label, values, classes, cmap, (low, high)) in enumerate(rows):
        for c in range(k):
            ax = axes[r][c]
            mine = valid & (classes.cpu() == c)
            image = values[mine].mean(0) if bool(mine.any()) else torch.zeros(values.shape[1:])
            ax.imshow(image.numpy(), cmap=cmap, vmin=low, vmax=high)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(names[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


# -- repair ---------------------------------------------------------------------------------
@dataclass
class RepairResult:
    """The CFKD result and the scores before and after on the test set."""

    cfkd: CFKDResult
    before: dict[str, Any]
    after: dict[str, Any]
    out: Path
    page: Path
    seconds: float


def make_teacher(
    kind: str,
    run: Run,
    spec: str | None = None,
    *,
    answers: str | Path | None = None,
    port: int = 0,
    open_browser: bool = False,
    device: str | torch.device = "cpu",
) -> Teacher:
    """The teacher ``kind`` for ``run``: ``rule`` (``spec``: a classifier spec, e.g. a
    Python entry point, whose argmax is the true label), ``model`` (``spec``: ``oracle`` for
    the run's oracle stage, a module checkpoint such as ``OTHER_RUN/classifier``, or a
    classifier spec; default ``oracle``) or ``human`` (a page on 127.0.0.1 saving to
    ``answers``)."""
    if kind == "human":
        if answers is None:
            raise ValueError("the human teacher needs a file for its answers (answers=...)")
        return HumanTeacher(answers, port=port, open_browser=open_browser)
    if kind == "rule":
        if not spec:
            raise ValueError(
                "the rule teacher needs the rule: --teacher-spec package.module:function (a "
                "callable images -> [B, K] scores; its argmax is the true class)"
            )
        return RuleTeacher(load_classifier(spec, device=device).model)
    if kind == "model":
        return ModelTeacher(_teacher_model(run, spec or "oracle", device))
    raise ValueError(f"unknown teacher {kind!r}; choose one of {list(TEACHERS)}")


def _teacher_model(run: Run, spec: str, device: str | torch.device) -> Callable[[Tensor], Any]:
    if spec == "oracle":
        if run.oracle is None:
            raise ValueError(
                f"run {run.directory} has no oracle; fit one (`leapfactual fit --out "
                f"{run.directory} --stages oracle`) or give --teacher-spec"
            )
        return run.oracle
    stem = Path(spec).with_suffix("") if spec.endswith(".safetensors") else Path(spec)
    if stem.with_name(stem.name + ".safetensors").is_file():
        return load_module(stem, device)
    return load_classifier(spec, device=device).model


def repair_run(
    run: Run | str | Path,
    out: str | Path,
    teacher: Teacher,
    settings: CFKDSettings | None = None,
    *,
    test: Dataset | str | None = None,
    force: bool = False,
    device: str | torch.device | None = None,
    command: str = "",
    log: Callable[[str], None] = lambda _: None,
) -> RepairResult:
    """CFKD on the run's classifier with ``teacher`` (rounds written to ``out`` as they are
    done; a second call continues), then accuracy, worst-class accuracy and per-class
    accuracy before and after on ``test`` (a dataset, a ``load_dataset`` spec, or None: the
    run's test split)."""
    start = time.perf_counter()
    settings = settings if settings is not None else CFKDSettings()
    fitted = run if isinstance(run, Run) else load_run(Path(run), device=device or "cpu")
    if device is not None:
        fitted.to(device)
    fitted.require("classifier", "vae")
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
        factory = refitting_factory(
            fitted.vae, fitted.train.images, fitted.config.flow, fitted.config.seed + 2,
            outputs=fitted.outputs, device=fitted.device, inject=None, batch_size=512,
        )  # fmt: skip
        result = cfkd(
            fitted.classifier, factory, fitted.train, teacher, settings, directory=folder,
            device=device, log=log,
        )  # fmt: skip
        before = _scores(fitted.classifier, data)
        after = _scores(result.classifier, data)
        record = {
            "run": str(fitted.directory.resolve()),
            "teacher": result.teacher,
            "settings": to_dict(settings),
            "test": data.name,
            "labels_used": result.labels_used,
            "kept_source": result.kept_source,
            "before": before,
            "after": after,
            "history": [{k: v for k, v in r.items() if k != "losses"} for r in result.history],
        }
        write_json(folder / "repair.json", no_nan(record), indent=2)
        seconds = time.perf_counter() - start
        page = write_repair_page(fitted, result, before, after, data, folder, command, seconds)
        return RepairResult(result, before, after, folder, page, seconds)


def write_repair_page(
    run: Run,
    result: CFKDResult,
    before: dict[str, Any],
    after: dict[str, Any],
    data: Dataset,
    out: Path,
    command: str,
    seconds: float,
) -> Path:
    """``out/repair.md``: scores before and after, per class, and the rounds."""
    names = run.class_names
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
        "source class (their change is one the classifier needs but the truth does not: a "
        "shortcut). Fewer such CEs from round to round mean less reliance on it.",
        "",
        *(f"- {line}" for line in cfkd_lines(result.history)),
    ]
    return write_page(
        out / "repair.md",
        "Repair by counterfactual knowledge distillation",
        command or f"leapfactual repair {run.directory} --out {out}",
        f"run `{run.directory}` ({run.config.data}); test set `{data.name}` "
        f"({len(data)} images).",
        seconds,
        [f"CFKD settings: {json.dumps(to_dict(result.settings))}",
         f"Repaired classifier: `{out / 'classifier.safetensors'}`."],
        [("Before and after", table), ("Rounds", rounds)],
    )  # fmt: skip


def _scores(model: Callable[[Tensor], Any], data: Dataset) -> dict[str, Any]:
    per_class = class_accuracies(model, data)
    pred = predict_probs(model, data.images).argmax(1)
    present = per_class[~per_class.isnan()]
    return {
        "accuracy": float((pred == data.labels).float().mean()),
        "worst_class": float(present.min()),
        "per_class": per_class.tolist(),
    }


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


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
    "EMPTY",
    "REPAIR_FILES",
    "TEACHERS",
    "AuditResult",
    "RepairResult",
    "audit_run",
    "class_accuracies",
    "class_findings",
    "make_teacher",
    "no_nan",
    "repair_run",
    "top_region_cells",
    "write_audit_page",
    "write_repair_page",
]
