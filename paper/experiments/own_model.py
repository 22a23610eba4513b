"""Explain your own model, measured: a user-side classifier on colour images, end to end.

What a user does, in code: they have RGB images in class folders and a classifier they trained
themselves (here: a small CNN trained with a plain PyTorch loop, *not* by ``fit``) and
exported with ``torch.export``. ``fit_run`` with ``classifier.spec`` trains only the VAE
(residual, at the images' own size) and the flow, conditioned on that model's outputs; then
``explain_run`` makes CEs of held-out images. The data (:func:`leapfactual.data.colour_shapes`)
needs colour *and* shape: red/blue circles/squares, so a codec that drops colour or blurs shape
shows up as low agreement and low validity. An oracle, a second user-side classifier of
another width trained on other images, judges whether the CEs really show the target class.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.data import colour_shapes
from leapfactual.distributed import resolve_device
from leapfactual.explain import LeapFactual
from leapfactual.metrics import conditional_sample_accuracy
from leapfactual.pipeline import (
    STAGES,
    ClassifierSettings,
    ExplainSettings,
    FitSettings,
    FlowSettings,
    Run,
    VAESettings,
    explain_run,
    fit_flow_for,
    fit_run,
    predict_probs,
)
from leapfactual.testing import export_classifier, train_user_classifier, write_image_folder
from paper.experiments._shared import verdict_words
from paper.tables import markdown_table

OWN_MODEL_FLOW = FlowSettings(
    width=256, depth=4, epochs=2000, lr=1e-3, batch_size=64, lr_milestones=(1500,)
)
"""The flow for these latents: wider and trained longer than the paper's MNIST field (width
64, 30 epochs), which the page's "The flow matters" table measures next to it."""


@dataclass(frozen=True)
class OwnModelConfig:
    """Image sizes, data sizes, the VAE's epochs and the flow of the measurement."""

    sizes: tuple[int, ...] = (128, 64, 32)
    n_images: int = 1200
    n_user: int = 2000
    limit: int = 200
    user_epochs: int = 8
    accept_chance: bool = False
    """Fit on a user classifier at chance (the tests' one-epoch classifiers)."""
    vae_epochs: int = 100
    vae_min_steps: int = VAESettings.min_steps
    latent_dim: int = 64
    vae_batch: int = 32
    vae_width: int | None = None
    vae_agreement: float = 0.01
    flow: FlowSettings = OWN_MODEL_FLOW
    seed: int = 0


@dataclass
class OwnModelRow:
    """The numbers of one image size."""

    size: int
    fit_seconds: float
    fit_cpu_seconds: float
    load: tuple[float, float]
    verdict: str
    summary: dict[str, float]
    validity: float
    validity_reliable: float
    oracle_validity: float
    oracle_validity_reliable: float
    seconds_per_ce: float
    user_accuracy: float
    oracle_accuracy: float
    warnings: list[str]
    vae_work_size: int
    paper_flow: dict[str, float] = field(default_factory=dict)
    examples: dict[str, Tensor] = field(repr=False, default_factory=dict)


@dataclass
class OwnModelResult:
    config: OwnModelConfig
    rows: list[OwnModelRow]
    seconds: float


def run_size(
    out: Path, size: int, cfg: OwnModelConfig, device: str | torch.device, progress: bool
) -> OwnModelRow:
    """Everything for one image size, under ``out/SIZE``."""
    folder = out / f"{size}px"
    data = colour_shapes(cfg.n_images, size, cfg.seed)
    images = write_image_folder(data, folder / "images")
    user = train_user_classifier(
        colour_shapes(cfg.n_user, size, cfg.seed + 1), 16, cfg.user_epochs, cfg.seed
    )
    oracle = train_user_classifier(
        colour_shapes(cfg.n_user, size, cfg.seed + 2), 24, cfg.user_epochs, cfg.seed + 1
    )
    spec = export_classifier(user, data.images[:2], folder / "classifier.pt2")
    config = FitSettings(
        data=f"image-folder:{images}",
        seed=cfg.seed,
        image_size=size,
        channels=3,
        vae=VAESettings(
            kind="resnet",
            latent_dim=cfg.latent_dim,
            width=cfg.vae_width,
            epochs=cfg.vae_epochs,
            min_steps=cfg.vae_min_steps,
            batch_size=cfg.vae_batch,
            agreement=cfg.vae_agreement,
        ),
        classifier=ClassifierSettings(spec=str(spec), accept_chance=cfg.accept_chance),
        flow=cfg.flow,
    )
    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    run = fit_run(folder / "run", config, progress=progress, device=device)
    fit_seconds, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    job = ExplainSettings(limit=cfg.limit, seed=cfg.seed, batch_size=256)
    result = explain_run(run, folder / "explanation", settings=job, trajectory="none", force=True)
    exp = result.explanation
    assert exp is not None and exp.x_reliable is not None
    test = run.test
    oracle_cf = predict_probs(oracle, exp.x_cf).argmax(1)
    oracle_rel = predict_probs(oracle, exp.x_reliable).argmax(1)
    paper = paper_flow_scores(run, exp.x, exp.target, oracle, cfg.seed + STAGES.index("flow"))
    return OwnModelRow(
        size=size,
        fit_seconds=fit_seconds,
        fit_cpu_seconds=fit_cpu,
        load=(load, os.getloadavg()[0]),
        verdict=verdict_words(run),
        summary=run.summary,
        validity=float(exp.valid.float().mean()),
        validity_reliable=float(exp.valid_reliable.float().mean()),  # type: ignore[union-attr]
        oracle_validity=float((oracle_cf == exp.target).float().mean()),
        oracle_validity_reliable=float((oracle_rel == exp.target).float().mean()),
        seconds_per_ce=exp.cost.seconds / len(exp),
        user_accuracy=float(
            (predict_probs(user, test.images).argmax(1) == test.labels).float().mean()
        ),
        oracle_accuracy=float(
            (predict_probs(oracle, test.images).argmax(1) == test.labels).float().mean()
        ),
        warnings=run.warnings,
        vae_work_size=int(getattr(run.vae, "work_size", size)),
        paper_flow=paper,
        examples={"x": exp.x[:6], "x_cf": exp.x_cf[:6], "x_reliable": exp.x_reliable[:6]},
    )


def paper_flow_scores(
    run: Run, x: Tensor, target: Tensor, oracle: nn.Module, seed: int
) -> dict[str, float]:
    """The same CEs with the paper's MNIST flow (``FlowSettings()``: width 64, depth 3, 30
    epochs) fitted on the run's latents and conditions in place of the run's flow: how much of
    the result is the flow's size and training."""
    classifier, vae = run.classifier, run.vae
    assert classifier is not None and vae is not None  # a fitted run
    paper = replace(FlowSettings(), condition_on=run.config.flow.condition_on)
    flow = fit_flow_for(classifier, vae, run.train.images, paper, seed)
    exp = LeapFactual(classifier, vae, flow, batch_size=256).explain(x, target)  # type: ignore[arg-type]
    return {
        "flow samples in class": conditional_sample_accuracy(
            flow, vae, classifier, run.test.num_classes, seed=run.config.seed
        ),
        "validity": float(exp.valid.float().mean()),
        "oracle validity": float(
            (predict_probs(oracle, exp.x_cf).argmax(1) == target).float().mean()
        ),
    }


def run_own_model(
    out: str | Path,
    cfg: OwnModelConfig = OwnModelConfig(),
    device: str | torch.device | None = None,
    progress: bool = False,
) -> OwnModelResult:
    """Measure the own-model path at every size of ``cfg.sizes`` on ``device`` (default: this
    rank's GPU, else the CPU); files go under ``out``."""
    start = time.perf_counter()
    on = resolve_device(device)
    rows = [run_size(Path(out), size, cfg, on, progress) for size in cfg.sizes]
    return OwnModelResult(cfg, rows, time.perf_counter() - start)


def table_rows(result: OwnModelResult) -> list[dict[str, Any]]:
    """One row of the results table per image size."""
    return [
        {
            "images": f"{r.size}x{r.size} RGB",
            "VAE works at": f"{r.vae_work_size} px",
            "user classifier accuracy": r.user_accuracy,
            "VAE PSNR (dB)": r.summary.get("vae_test_psnr", float("nan")),
            "VAE SSIM": r.summary.get("vae_test_ssim", float("nan")),
            "agreement on reconstructions": r.summary.get(
                "classifier_agreement_on_reconstructions", float("nan")
            ),
            "flow samples in class": r.summary.get("flow_sample_accuracy", float("nan")),
            "validity": r.validity,
            "validity (reliable)": r.validity_reliable,
            "oracle validity": r.oracle_validity,
            "oracle validity (reliable)": r.oracle_validity_reliable,
            "seconds per CE": r.seconds_per_ce,
            "fit seconds": r.fit_seconds,
            "fit CPU seconds": r.fit_cpu_seconds,
        }
        for r in result.rows
    ]


COLUMNS = {
    "images": "images",
    "VAE works at": "VAE works at",
    "user classifier accuracy": "user classifier accuracy (held out)",
    "VAE PSNR (dB)": "VAE PSNR (dB)",
    "VAE SSIM": "VAE SSIM",
    "agreement on reconstructions": "classifier agreement on reconstructions",
    "flow samples in class": "flow samples in the asked class",
    "validity": "validity",
    "validity (reliable)": "validity, reliable CE",
    "oracle validity": "oracle validity",
    "oracle validity (reliable)": "oracle validity, reliable CE",
    "seconds per CE": "seconds per CE",
    "fit seconds": "fit seconds (VAE + flow)",
    "fit CPU seconds": "fit CPU seconds (this process)",
}

HEADLINE = (
    "validity",
    "validity (reliable)",
    "oracle validity",
    "oracle validity (reliable)",
    "seconds per CE",
)
"""The columns right after the image size on the page; the codec's and flow's scores after."""


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"


def write_figure(result: OwnModelResult, path: Path) -> Path:
    """Inputs, CEs and reliable CEs of each size (rows), six examples each."""
    from leapfactual.report import figure

    rows = [(r.size, key) for r in result.rows for key in ("x", "x_cf", "x_reliable")]
    count = max(len(r.examples["x"]) for r in result.rows)
    fig = figure(figsize=(1.1 * count + 1.6, 1.1 * len(rows)))
    axes = fig.subplots(len(rows), count, squeeze=False)
    labels = {"x": "input", "x_cf": "CE", "x_reliable": "reliable CE"}
    for i, (size, key) in enumerate(rows):
        images = next(r for r in result.rows if r.size == size).examples[key]
        for j in range(count):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(images):
                ax.imshow(images[j].permute(1, 2, 0).clamp(0, 1).numpy() * 2)  # dim: x2
        axes[i][0].set_ylabel(f"{size}px\n{labels[key]}", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def limits(result: OwnModelResult) -> list[str]:
    """The page's first section: the runs' verdicts, one seed, the load the fits ran under."""
    rows, cfg = result.rows, result.config
    low = min(v for r in rows for v in r.load) if rows else 0.0
    high = max(v for r in rows for v in r.load) if rows else 0.0
    return [
        "- Run verdicts (the library's checks of each run's codec, classifier, flow and "
        "training): " + "; ".join(f"{r.size} px {r.verdict}" for r in rows) + ".",
        f"- One seed ({cfg.seed}) and at most {cfg.limit} held-out images per size; every "
        "figure is one run's, none is an average.",
        f"- Fit times: wall clock and this process's CPU time of `fit`, on a machine shared "
        f"with other work (1-minute load average {low:.1f}-{high:.1f} at the fits' starts and "
        "ends); compare CPU seconds across pages, not wall seconds. A run already on disk is "
        "resumed, not refitted, and its fit time counts only the work this call did.",
    ]


def write_own_model_page(result: OwnModelResult, stem: Path, command: str) -> Path:
    """``STEM.md`` (the table, the figure ``STEM.png``, the warnings) from ``result``."""
    from paper.pages import write_page

    figure = write_figure(result, stem.with_suffix(".png"))
    table = table_rows(result)
    lines = markdown_table(
        [{COLUMNS[k]: _cell(v) for k, v in row.items()} for row in table],
        lead=[COLUMNS[k] for k in HEADLINE],
    )
    cfg = result.config
    warnings = [f"- {r.size}px: {w}" for r in result.rows for w in r.warnings] or ["- none"]
    work = (
        "*VAE works at*: the side of the residual VAE's convolutions (`vae.work_size`; the "
        "default is the images' side up to 64, so at 128 px it encodes the image averaged down "
        "to 64 px and resamples its output up); every score is measured at the images' size."
    )
    sections = [
        ("What limits these results", limits(result)),
        ("Results", [*lines, "", work]),
        (
            "Examples",
            [
                f"![examples]({figure.name})",
                "",
                "*Held-out images (brightness doubled for the eye), their CEs toward a random "
                "other class and the reliable CEs.*",
            ],
        ),
        (
            "The flow matters",
            [
                "The same VAE latents, conditions, inputs and targets with the paper's MNIST "
                "flow (`FlowSettings()`: an MLP of width 64 and depth 3, 30 epochs of "
                "minibatches of 256) in place of the flow above:",
                "",
                "| images | flow | flow samples in the asked class | validity | oracle validity |",
                "|---|---|---|---|---|",
                *(
                    f"| {r.size}x{r.size} RGB | {name} | {_cell(scores['flow samples in class'])}"
                    f" | {_cell(scores['validity'])} | {_cell(scores['oracle validity'])} |"
                    for r in result.rows
                    for name, scores in (
                        (
                            "above",
                            {
                                "flow samples in class": r.summary.get(
                                    "flow_sample_accuracy", float("nan")
                                ),
                                "validity": r.validity,
                                "oracle validity": r.oracle_validity,
                            },
                        ),
                        ("paper's MNIST flow", r.paper_flow),
                    )
                ),
            ],
        ),
        ("Warnings from fit", warnings),
        (
            "How it was made",
            [
                "- The user's classifier: a CNN with batch norm and a global max pool (3 blocks "
                "at 32 px and one more stride-2 block per doubling of the side: `UserCNN`) "
                "trained with a plain "
                f"PyTorch loop on {cfg.n_user} other images ({cfg.user_epochs} epochs), "
                "exported with `torch.export` and given to `fit` as `classifier.spec`; `fit` "
                f"trains only a residual VAE (latent {cfg.latent_dim}, {cfg.vae_epochs} epochs, "
                "the kind's KL weight and gradient clip, and the user's classifier's agreement "
                f"term with weight {cfg.vae_agreement:g}: `vae.agreement`) and the flow (an MLP "
                "of width "
                f"{cfg.flow.width} and depth {cfg.flow.depth}, {cfg.flow.epochs} epochs of "
                f"minibatches of {cfg.flow.batch_size}, lr {cfg.flow.lr:g} x0.1 after epoch "
                f"{cfg.flow.lr_milestones[0] if cfg.flow.lr_milestones else '-'}) on its outputs.",
                "- The oracle: a wider CNN trained the same way on yet other images; oracle "
                "validity = the oracle puts the CE in the target class.",
                f"- {cfg.limit} held-out images per size, targets drawn at random among the "
                "other classes (seed 0), LeapFactual with its default schedule.",
            ],
        ),
    ]
    data = (
        f"`colour_shapes` (dim red / blue circles / squares; 4 classes that need colour and "
        f"shape), {cfg.n_images} images per size written as PNG class folders, 20 % held out"
    )
    return write_page(
        stem.with_suffix(".md"),
        "Explaining your own model: colour images at their own size",
        command,
        data,
        result.seconds,
        sections=sections,
    )


__all__ = [
    "OwnModelConfig",
    "OwnModelResult",
    "OwnModelRow",
    "run_own_model",
    "table_rows",
    "write_own_model_page",
]
