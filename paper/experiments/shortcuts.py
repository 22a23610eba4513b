"""Shortcut benchmark: audit and repair a classifier that learnt a nuisance (known truth).

:func:`~leapfactual.data.confounded.confounded_digits` puts a nuisance (a bright patch in a
corner) on most training images of one class and on none of the others; the test set is
decorrelated (the nuisance on half of every class). Per variant (balanced, or the confounded
class a minority) and seed, on one VAE fitted to the confounded training images:

- the *confounded* classifier (trained on the confounded images);
- *CFKD* (:func:`leapfactual.audit.cfkd.cfkd`) from it with the *rule* teacher (the true
  rule: the nuisance removed, then a classifier trained on the clean twins) and the *model*
  teacher (an oracle of twice the width trained on the decorrelated training images);
- *plain retraining*: the same loop with every CE labelled with its target, as
  ``leapfactual improve`` labels them (:class:`~leapfactual.audit.cfkd.TargetTeacher`);
- a model *trained without the nuisance* (the clean twins; it never saw the nuisance), and
  the *ceiling*, trained on the decorrelated training images (it saw the nuisance, but the
  nuisance tells nothing there, so it is also the model blind to the shortcut).

Every model is scored on the decorrelated test set (accuracy, AUROC, worst-class accuracy),
on its clean twins (the nuisance absent), by its *reliance* (the share of clean test images
whose predicted class changes when the nuisance is added), and by the audit: LeapFactual CEs
(flow fitted on that model) of ``audit_limit`` test images toward every other class, with
:func:`~leapfactual.audit.necessity.necessity`; the share of CEs from or toward the
confounded class whose most-needed region (largest drop) is the nuisance. The human teacher
needs a person and is exercised only in the tests. :func:`run_shortcuts` computes and writes
nothing; :func:`write_shortcuts_page` writes the page and every row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from leapfactual.audit import (
    CFKDSettings,
    ModelTeacher,
    Necessity,
    RuleTeacher,
    TargetTeacher,
    Teacher,
    cfkd,
    class_accuracies,
    grid_cells,
    necessity,
    necessity_map,
    no_nan,
    refitting_factory,
    top_region_cells,
)
from leapfactual.data import (
    ConfoundedTask,
    Dataset,
    confounded_digits,
    load_dataset,
    stratified_split,
)
from leapfactual.distributed import resolve_device
from leapfactual.explain import Blend, all_other_targets
from leapfactual.io import load_tensors, save_tensors, write_json
from leapfactual.pipeline import (
    ClassifierSettings,
    FitConfig,
    VAESettings,
    fit_classifier,
    fit_vae,
    predict_probs,
    to_dict,
)
from paper.experiments._shared import LEAN, mean_std, model_settings, pm
from paper.experiments.improvement import scores
from paper.pages import write_page

CONFOUNDED = "confounded"
RULE = "CFKD, rule teacher"
MODEL = "CFKD, model teacher"
PLAIN = "plain retraining (target labels)"
CLEAN = "trained without the nuisance"
CEILING = "ceiling (nuisance decorrelated)"
SETTINGS = (CONFOUNDED, RULE, MODEL, PLAIN, CLEAN, CEILING)
MARGIN = 2
"""Pixels the nuisance's mask is grown by when matching it with a CE's region (decoder blur)."""
GRID = 4
"""The audit's grid: cells of a quarter of the image side."""
MODELS = replace(LEAN, vae=VAESettings(latent_dim=32, width=16, epochs=12))
"""The reliability experiments' lean models with a 32-d VAE: the 16-d one of :data:`LEAN`
dropped the patch when it marks only 2.5 % of the images (the minority variant), and what the
codec drops no CE can show and no audit or repair can find."""


@dataclass(frozen=True)
class ShortcutsConfig:
    """The task, the variants, seeds, model sizes, CFKD and audit settings.

    ``imbalances``: one variant per value, the share of the confounded class's training
    images kept (1.0: balanced); ``n_base``: base digits used (stratified; None: all);
    ``audit_limit``: test images explained toward every other class for the audit.
    """

    data: str = "mnist5k"
    nuisance: str = "patch"
    strength: float = 1.0
    correlated_class: int = 8
    p_train: float = 0.95
    p_other: float = 0.0
    imbalances: tuple[float, ...] = (1.0, 0.3)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_base: int | None = None
    cfkd: CFKDSettings = field(default_factory=lambda: CFKDSettings(3, 300, 2))
    blend: Blend = Blend()
    audit_limit: int = 50
    models: FitConfig = MODELS
    oracle: ClassifierSettings = field(default_factory=lambda: ClassifierSettings(width=32))

    def __post_init__(self) -> None:
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"give at least one seed and no repeats, got {self.seeds}")
        if not self.imbalances or any(not 0 < v <= 1 for v in self.imbalances):
            raise ValueError(f"imbalances must lie in (0, 1], got {self.imbalances}")
        if self.audit_limit < 1:
            raise ValueError(f"audit_limit must be positive, got {self.audit_limit}")


def variant_name(imbalance: float) -> str:
    return "balanced" if imbalance >= 1 else f"class kept at {imbalance:.0%}"


@dataclass
class ShortcutsResult:
    """Every row (one per variant, seed and setting), example maps and the time taken."""

    config: ShortcutsConfig
    rows: list[dict[str, Any]]
    seconds: float
    sizes: dict[str, int]
    maps: dict[str, Tensor] = field(default_factory=dict)

    def variants(self) -> list[str]:
        return list(dict.fromkeys(r["variant"] for r in self.rows))

    def values(self, variant: str, setting: str, key: str) -> list[float]:
        return [r[key] for r in self.rows if r["variant"] == variant and r["setting"] == setting]

    def mean(self, variant: str, setting: str, key: str) -> float:
        return mean_std(self.values(variant, setting, key))[0]


# -- measurements ---------------------------------------------------------------------------
def worst_class_accuracy(model: Callable[[Tensor], Tensor], data: Dataset) -> float:
    """The lowest per-class accuracy (classes without an image are skipped)."""
    accs = class_accuracies(model, data)
    return float(accs[~accs.isnan()].min())


def reliance(model: Callable[[Tensor], Tensor], task: ConfoundedTask) -> dict[str, float]:
    """``flip``: share of clean test images whose predicted class changes when the nuisance
    is added; ``pulled``: share of the other classes' clean test images predicted as the
    confounded class once it is added."""
    clean = task.test_clean.images
    before = predict_probs(model, clean).argmax(1)
    after = predict_probs(model, task.add_nuisance(clean)).argmax(1)
    other = task.test.labels != task.correlated_class
    return {
        "flip": float((before != after).float().mean()),
        "pulled": float((after[other] == task.correlated_class).float().mean()),
    }


def nuisance_first(nec: Necessity, mask: Tensor, margin: int = MARGIN) -> Tensor:
    """bool ``[B]``: whether each CE's most-needed region (largest drop) lies at least half
    inside the nuisance's ``mask`` ``[B, 1, H, W]`` grown by ``margin`` pixels."""
    grown = F.max_pool2d(mask.float(), 2 * margin + 1, 1, margin)[:, 0] > 0
    has = nec.count > 0
    top = nec.drop.nan_to_num(-torch.inf).argmax(1) + 1
    region = nec.regions == top[:, None, None]
    inside = (region & grown.cpu()).flatten(1).sum(1)
    return has & (2 * inside >= region.flatten(1).sum(1))


def nuisance_drop(nec: Necessity, mask: Tensor, margin: int = MARGIN) -> Tensor:
    """Each CE's drop of its nuisance region (the region lying most inside the grown mask,
    if at least half of it does), NaN where the CE has none ``[B]``."""
    grown = (F.max_pool2d(mask.float(), 2 * margin + 1, 1, margin)[:, 0] > 0).cpu()
    out = torch.full((len(nec),), float("nan"))
    for i in range(len(nec)):
        for r in range(1, int(nec.count[i]) + 1):
            region = nec.regions[i] == r
            if 2 * int((region & grown[i]).sum()) >= int(region.sum()) > 0:
                out[i] = nec.drop[i, r - 1]
                break
    return out


def audit_model(
    model: nn.Module,
    factory: Callable[[nn.Module], Any],
    x: Tensor,
    task: ConfoundedTask,
) -> tuple[dict[str, float], dict[str, Tensor]]:
    """The audit of ``model`` on images ``x``: CEs toward every other class, their necessity,
    the share of CEs from or toward the confounded class whose most-needed region is the
    nuisance (``audit_first``) and its mean drop; and the mean necessity maps toward and from
    that class."""
    labels = predict_probs(model, x).argmax(1)
    rows, targets = all_other_targets(labels, task.train.num_classes)
    exp = factory(model).explain(x[rows], targets)
    nec = necessity(model, exp.x, exp.x_cf, exp.target, exp.source)
    c = task.correlated_class
    source, target, valid = exp.source.cpu(), exp.target.cpu(), exp.valid.cpu()
    involved = valid & ((source == c) | (target == c))
    out = {"audit_ces": float(involved.sum()), "audit_validity": float(valid.float().mean())}
    maps = necessity_map(nec)
    pictures = {
        "toward": maps[valid & (target == c)].mean(0)[0],
        "from": maps[valid & (source == c)].mean(0)[0],
    }
    if task.nuisance != "patch" or not bool(involved.any()):
        nan = float("nan")
        return {**out, "audit_first": nan, "audit_drop": nan, "audit_rank": nan}, pictures
    mask = task.nuisance_mask(exp.x)
    first = nuisance_first(nec, mask)[involved]
    drops = nuisance_drop(nec, mask)[involved]
    drops = drops[~drops.isnan()]
    out["audit_first"] = float(first.float().mean())
    out["audit_drop"] = float(drops.mean()) if len(drops) else float("nan")
    out["audit_rank"] = float(nuisance_cell_rank(nec, mask[:1, 0], involved))
    return out, pictures


def nuisance_cell_rank(nec: Necessity, mask: Tensor, rows: Tensor, grid: int = GRID) -> int:
    """The rank (1: first) of the grid cell holding the nuisance ``mask`` ``[1, H, W]``
    among all cells, by how many of the CEs at ``rows`` have their most-needed region there
    (the audit page's ranking by cell, before global edits and ``global`` regions)."""
    cells = top_region_cells(nec, grid)[rows]
    counts = torch.bincount(cells[cells >= 0], minlength=grid * grid)
    where = grid_cells(mask.shape[1], mask.shape[2], grid).flatten()
    home = int(torch.bincount(where[mask.flatten().cpu()], minlength=grid * grid).argmax())
    return 1 + int((counts > counts[home]).sum())


def confounded_rule(base: str = "mnist5k", seed: int = 0) -> Callable[[Tensor], Tensor]:
    """The true rule of the registered confounded digits
    (:func:`~leapfactual.data.confounded.load_confounded`), as a classifier for
    ``leapfactual repair --teacher rule --teacher-spec
    leapfactual.experiments.shortcuts:confounded_rule``: the patch removed, then a classifier
    trained on the clean twins (fitted on the first call, seeded; a few seconds)."""
    task = confounded_digits(load_dataset(base), seed=seed)
    clean = task.train_clean
    model = fit_classifier(clean.images, clean.labels, clean.num_classes, MODELS.classifier, seed)
    return task.rule(model)


# -- the benchmark --------------------------------------------------------------------------
def run_variant(
    cfg: ShortcutsConfig,
    base: Dataset,
    imbalance: float,
    seed: int,
    log: Callable[[str], None] = lambda _: None,
    device: str | torch.device | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Tensor], dict[str, int]]:
    """One variant and seed: the task, every model, CFKD with each teacher, their scores and
    audits (seeds: task ``seed``, VAE ``seed``, classifiers ``seed + 1..4``, flows
    ``seed + 5``, CFKD ``cfg.cfkd.seed + seed``)."""
    variant = variant_name(imbalance)
    task = confounded_digits(
        base, cfg.nuisance, cfg.strength, cfg.correlated_class, cfg.p_train,
        None if imbalance >= 1 else imbalance, seed, p_other=cfg.p_other,
    )  # fmt: skip
    k, m = task.train.num_classes, cfg.models
    log(f"{variant}, seed {seed}: VAE and classifiers on {len(task.train)} training digits")
    vae = fit_vae(task.train.images, m.vae, seed, device=device)

    def fit(data: Dataset, settings: ClassifierSettings, offset: int) -> nn.Module:
        return fit_classifier(data.images, data.labels, k, settings, seed + offset, device=device)

    models: dict[str, nn.Module] = {
        CONFOUNDED: fit(task.train, m.classifier, 1),
        CLEAN: fit(task.train_clean, m.classifier, 2),
        CEILING: fit(task.train_decorrelated, m.classifier, 3),
    }
    oracle = fit(task.train_decorrelated, cfg.oracle, 4)
    factory = refitting_factory(
        vae, task.train.images, m.flow, seed + 5, device=device, blend=cfg.blend, inject=None,
        batch_size=512,
    )  # fmt: skip
    teachers: dict[str, Teacher] = {
        RULE: RuleTeacher(task.rule(models[CLEAN])),
        MODEL: ModelTeacher(oracle),
        PLAIN: TargetTeacher(),
    }
    settings = replace(cfg.cfkd, seed=cfg.cfkd.seed + seed)
    repaired: dict[str, Any] = {}
    for name, teacher in teachers.items():
        log(f"{variant}, seed {seed}: {name}")
        repaired[name] = cfkd(models[CONFOUNDED], factory, task.train, teacher, settings,
                              device=device)  # fmt: skip
        models[name] = repaired[name].classifier
    pick = torch.randperm(len(task.test), generator=torch.Generator().manual_seed(seed))
    pick = pick[: cfg.audit_limit]
    x_audit = task.test.images[pick]
    rows, pictures = [], {}
    for name in SETTINGS:
        model = models[name]
        log(f"{variant}, seed {seed}: scoring and auditing {name}")
        audit, maps = audit_model(model, factory, x_audit, task)
        if name in (CONFOUNDED, CEILING):
            pictures.update({f"{name}, {kind}": v for kind, v in maps.items()})
        result = repaired.get(name)
        rows.append({
            "variant": variant, "imbalance": imbalance, "seed": seed, "setting": name,
            **scores(model, task.test),
            "worst_class": worst_class_accuracy(model, task.test),
            "accuracy_absent": scores(model, task.test_clean)["accuracy"],
            **reliance(model, task),
            "labels": 0 if result is None or name == PLAIN else result.labels_used,
            "added": 0 if result is None else len(result.labels),
            "kept_source": 0 if result is None else result.kept_source,
            "history": [] if result is None else [
                {k: v for k, v in r.items() if k != "losses"} for r in result.history
            ],
            **audit,
        })  # fmt: skip
    sizes = {"train": len(task.train), "test": len(task.test), "audit": len(x_audit)}
    return rows, pictures, sizes


def run_shortcuts(
    cfg: ShortcutsConfig = ShortcutsConfig(),
    log: Callable[[str], None] = lambda _: None,
    device: str | torch.device | None = None,
    parts: str | Path | None = None,
) -> ShortcutsResult:
    """Every variant and seed on ``device`` (default: this rank's GPU if any, else the CPU).
    Writes nothing, unless ``parts`` names a folder: each finished variant and seed is then
    kept there (JSON rows, safetensors maps) and reused by a later call with the same
    configuration (see :func:`write_shortcuts_page` for the page)."""
    start = time.perf_counter()
    on = resolve_device(device)
    base = load_dataset(cfg.data)
    if cfg.n_base is not None and cfg.n_base < len(base):
        base = base.subset(stratified_split(base.labels, [cfg.n_base / len(base)], 0)[0])
    rows: list[dict[str, Any]] = []
    maps: dict[str, Tensor] = {}
    sizes: dict[str, int] = {}
    identity = json.loads(json.dumps(asdict(cfg), default=str))
    for imbalance in cfg.imbalances:
        for seed in cfg.seeds:
            name = f"kept{round(100 * imbalance)}-seed{seed}"
            stem = None if parts is None else Path(parts) / name
            done = _load_part(stem, identity)
            if done is None:
                done = run_variant(cfg, base, imbalance, seed, log, on)
                _save_part(stem, identity, *done)
            else:
                log(f"{variant_name(imbalance)}, seed {seed}: already done in {stem}")
            got, pictures, sizes_now = done
            rows += got
            if seed == cfg.seeds[0]:
                maps.update({f"{variant_name(imbalance)}: {k}": v for k, v in pictures.items()})
                sizes.setdefault(variant_name(imbalance), sizes_now["train"])
                sizes.update(test=sizes_now["test"], audit=sizes_now["audit"])
    return ShortcutsResult(cfg, rows, time.perf_counter() - start, sizes, maps)


Part = tuple[list[dict[str, Any]], dict[str, Tensor], dict[str, int]]


def _save_part(stem: Path | None, identity: dict[str, Any], *part: Any) -> None:
    if stem is None:
        return
    rows, pictures, sizes = part
    stem.mkdir(parents=True, exist_ok=True)
    save_tensors(stem / "maps", dict(pictures), {"kind": "shortcut-maps"})
    record = {"config": identity, "rows": rows, "sizes": sizes}
    write_json(stem / "rows.json", no_nan(record))


def _load_part(stem: Path | None, identity: dict[str, Any]) -> Part | None:
    if stem is None or not (stem / "rows.json").is_file():
        return None
    record = json.loads((stem / "rows.json").read_text(encoding="utf-8"))
    if record.get("config") != identity:
        return None  # another configuration: computed again and overwritten
    maps, _ = load_tensors(stem / "maps")
    rows = [{k: float("nan") if v is None else v for k, v in r.items()} for r in record["rows"]]
    return rows, maps, record["sizes"]


# -- the page -------------------------------------------------------------------------------
COLUMNS = (
    ("accuracy", "accuracy (decorrelated)"),
    ("worst_class", "worst-class accuracy"),
    ("accuracy_absent", "accuracy (nuisance absent)"),
    ("flip", "reliance: flips when added"),
    ("labels", "teacher labels"),
    ("added", "CEs added"),
    ("audit_first", "audit: nuisance needed most"),
    ("audit_rank", "audit: rank of its cell"),
)


def write_shortcuts_page(result: ShortcutsResult, stem: str | Path, command: str) -> Path:
    """Write ``STEM.md`` (the page), ``STEM.png`` (mean necessity maps) and ``STEM.json``
    (every row); return the page. Every number comes from ``result``."""
    page = Path(stem).with_suffix(".md")
    page.parent.mkdir(parents=True, exist_ok=True)
    payload = {"config": asdict(result.config), "rows": result.rows, "sizes": result.sizes,
               "seconds": result.seconds}  # fmt: skip
    write_json(page.with_suffix(".json"), no_nan(payload), indent=2, default=str)
    figure = plot_maps(result, page.with_suffix(".png"))
    cfg = result.config
    names = _class_label(cfg)
    sections: list[tuple[str | None, list[str]]] = []
    for variant in result.variants():
        table = [
            "| setting | " + " | ".join(title for _, title in COLUMNS) + " |",
            "|---|" + "---|" * len(COLUMNS),
        ]
        for setting in SETTINGS:
            cells = [_cell(result.values(variant, setting, key), key) for key, _ in COLUMNS]
            table.append(f"| {setting} | " + " | ".join(cells) + " |")
        sections.append((f"{variant} (training set of {result.sizes.get(variant, 0)})", table))
    sections.append(("What the numbers say", verdicts(result)))
    if figure is not None:
        sections.append((
            "Where the audit finds the needed change",
            [f"Mean necessity map of the valid CEs toward and from {names} (first seed; bright: "
             "reverting that part of the change lowers the target probability most); the "
             "nuisance sits in the top-left corner.", "", f"![necessity maps]({figure.name})"],
        ))  # fmt: skip
    c = cfg.cfkd
    return write_page(
        page,
        "Shortcuts: auditing and repairing a confounded classifier",
        command,
        f"`{cfg.data}` digits with a {cfg.nuisance} nuisance (strength {cfg.strength:g}) on "
        f"{cfg.p_train:.0%} of the training images of {names} and {cfg.p_other:.0%} of the "
        f"others; decorrelated test set of {result.sizes.get('test', 0)} images (the "
        "nuisance on half of every class, independent of it).",
        result.seconds,
        [
            f"Seeds: {', '.join(map(str, cfg.seeds))} (split, nuisance draws, every model). "
            "Mean ± std over seeds.",
            f"CFKD: {c.rounds} rounds of {c.per_round} training images explained toward a "
            f"random other class (LeapFactual minimal CEs, blending {asdict(cfg.blend)}, a "
            "flow fitted on the current weights each round); the CEs the classifier puts in "
            "the target, cut to their minimal sufficient change"
            f"{' (necessity)' if c.minimal else ' (off: whole CEs)'}, go to the teacher; "
            f"{c.epochs} epochs of fine-tuning (lr {c.lr:g}) "
            "on the training set plus every labelled CE. Rule teacher: the nuisance removed, "
            "then the model trained without the nuisance. Model teacher: an oracle trained on "
            f"the decorrelated training images ({json.dumps(to_dict(cfg.oracle))}). Plain "
            "retraining: the same loop with every CE labelled with its target (as "
            "`leapfactual improve` labels CEs). The human teacher "
            "(`leapfactual repair --teacher human`) needs a person and is exercised only in "
            "the tests.",
            "Reliance: share of clean test images whose predicted class changes when the "
            f"nuisance is added. Audit: {result.sizes.get('audit', 0)} test images explained "
            "toward every other class (flow fitted on the model audited), necessity by "
            "connected regions; the share of valid CEs from or toward "
            f"{names} whose most-needed region (largest drop of the target probability when "
            "reverted) is the nuisance.",
            f"Models: {json.dumps(model_settings(cfg.models))}",
        ],
        sections,
    )


def _class_label(cfg: ShortcutsConfig) -> str:
    return f"class {cfg.correlated_class}"


def _ranks(ranks: list[float]) -> str:
    return ", ".join(f"{r:.0f}" for r in ranks) + (" (per seed)" if len(ranks) > 1 else "")


def _cell(values: list[float], key: str) -> str:
    if key in ("labels", "added", "audit_rank"):
        return pm(values, 0)
    clean = [v for v in values if v == v]
    return pm(clean) if clean else "n/a"


def verdicts(result: ShortcutsResult) -> list[str]:
    """Sentences generated from the numbers: does CFKD reduce the reliance, and does the
    audit tell the confounded model from the blind one?"""
    out = []
    for v in result.variants():

        def mean(setting: str, key: str, variant: str = v) -> float:
            return result.mean(variant, setting, key)

        base_acc, base_flip = mean(CONFOUNDED, "worst_class"), mean(CONFOUNDED, "flip")
        for setting in (RULE, MODEL, PLAIN):
            acc, flip = mean(setting, "worst_class"), mean(setting, "flip")
            verb = "reduces" if flip < base_flip else "does not reduce"
            out.append(
                f"- {v}, {setting}: {verb} the reliance ({base_flip:.3f} -> {flip:.3f} flips); "
                f"worst-class accuracy {base_acc:.3f} -> {acc:.3f} (ceiling "
                f"{mean(CEILING, 'worst_class'):.3f}), with {mean(setting, 'labels'):.0f} "
                "teacher labels."
            )
        first, blind = mean(CONFOUNDED, "audit_first"), mean(CEILING, "audit_first")
        if first == first and blind == blind:
            ranks = result.values(v, CONFOUNDED, "audit_rank")
            blind_ranks = result.values(v, CEILING, "audit_rank")
            both = all(r == 1 for r in ranks) and all(r > 1 for r in blind_ranks)
            out.append(
                f"- {v}, audit: the nuisance is the most-needed change in {first:.0%} of the "
                f"confounded model's valid CEs from or toward the class and in {blind:.0%} of "
                f"the blind (ceiling) model's; its cell ranks {_ranks(ranks)} among the places "
                f"where the most-needed change sits for the confounded model and "
                f"{_ranks(blind_ranks)} for the blind one: the audit "
                f"{'tells' if both else 'does not tell'} them apart in every seed."
            )
    return out


def plot_maps(result: ShortcutsResult, path: Path) -> Path | None:
    """The mean necessity maps toward and from the confounded class, per model (first seed)."""
    if not result.maps:
        return None
    from leapfactual.report import figure

    names = list(result.maps)
    fig = figure(figsize=(1.9 * len(names), 2.5), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        image = result.maps[name].nan_to_num(0.0).clamp_min(0.0)
        ax.imshow(image.numpy(), cmap="magma", vmin=0.0, vmax=1.0)
        ax.set_title(name.replace(" (nuisance decorrelated)", "").replace(": ", "\n"), fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.savefig(path, dpi=110)
    return path


__all__ = [
    "SETTINGS",
    "ShortcutsConfig",
    "ShortcutsResult",
    "audit_model",
    "confounded_rule",
    "nuisance_first",
    "reliance",
    "run_shortcuts",
    "run_variant",
    "worst_class_accuracy",
    "write_shortcuts_page",
]
