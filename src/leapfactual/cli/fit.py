"""The ``fit`` command: train a run directory (or wrap the user's own classifier in one)."""

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli.common import Config, Device, Set, settings
from leapfactual.flow import KINDS
from leapfactual.pipeline import FIELDS, STAGE_NAMES, FitSettings, check_stages

_D = FitSettings()


def fit(
    out: Annotated[Path, typer.Option(help="Run directory to create or complete.")],
    data: Annotated[
        str | None,
        typer.Option(
            help="Dataset: mnist5k, digits, fashion-mnist[:DIR], idx:DIR, image-folder:DIR, "
            f"galaxy10:FILE.h5, thickness[:BASE] [default: {_D.data}]."
        ),
    ] = None,
    classifier: Annotated[
        str | None,
        typer.Option(
            help="Your classifier instead of training one: package.module:attribute, a "
            "torch.export .pt2, a TorchScript file, an .onnx file, a Hugging Face model "
            "directory or timm:NAME:CHECKPOINT.safetensors (then only the VAE and the flow "
            "are trained, the flow on this model's outputs; --set classifier.preprocess.* and "
            "classifier.output shape its inputs and pick its output) [default: none: the "
            "run trains a CNN]."
        ),
    ] = None,
    codec: Annotated[
        str | None,
        typer.Option(
            help="Your codec instead of training a VAE: package.module:attribute (an object "
            "with encode and decode) or a diffusers autoencoder directory (then only the flow "
            "is trained, on its latents standardised by a scale measured on the data) [default: "
            "none: the run trains a VAE]."
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="classifier, or regressor: a model of one value per image, trained on the "
            "data's scalar values (e.g. --data stroke-thickness) [default: "
            f"{_D.classifier.kind}]."
        ),
    ] = None,
    image_size: Annotated[
        str | None,
        typer.Option(
            help="Size of the images read from files: a side (64) or HEIGHTxWIDTH (24x48, "
            "kept non-square for models that take it) [default: from the data]."
        ),
    ] = None,
    aspect: Annotated[
        str | None,
        typer.Option(
            help="How images of another aspect ratio are fitted to that size: pad (black "
            "bars, nothing lost), crop or stretch [default: pad]."
        ),
    ] = None,
    channels: Annotated[
        int | None,
        typer.Option(min=1, max=3, help="1 (grey) or 3 (RGB) [default: from the data]."),
    ] = None,
    config: Config = None,
    set_: Set = None,
    seed: Annotated[int | None, typer.Option(help=f"Seed [default: {_D.seed}].")] = None,
    test_fraction: Annotated[
        float | None,
        typer.Option(min=0.01, max=0.9, help=f"Held-out share [default: {_D.test_fraction}]."),
    ] = None,
    latent_dim: Annotated[
        int | None, typer.Option(min=1, help=f"VAE latent size [default: {_D.vae.latent_dim}].")
    ] = None,
    vae_kind: Annotated[
        str | None,
        typer.Option(
            help="VAE: auto (resnet for colour or over 28 px, else conv), conv (small grey "
            f"images) or resnet (residual, for 32-128 px) [default: {_D.vae.kind}]."
        ),
    ] = None,
    vae_epochs: Annotated[
        int | None, typer.Option(min=1, help=f"VAE epochs [default: {_D.vae.epochs}].")
    ] = None,
    classifier_epochs: Annotated[
        int | None,
        typer.Option(min=1, help=f"Classifier epochs [default: {_D.classifier.epochs}]."),
    ] = None,
    flow_epochs: Annotated[
        int | None, typer.Option(min=1, help=f"Flow epochs [default: {_D.flow.epochs}].")
    ] = None,
    flow_field: Annotated[
        str | None,
        typer.Option(help=f"Flow network: {', '.join(FIELDS)} [default: {_D.flow.field}]."),
    ] = None,
    condition: Annotated[
        str | None,
        typer.Option(help=f"Flow condition: {', '.join(KINDS)} [default: {_D.flow.condition}]."),
    ] = None,
    stages: Annotated[
        str,
        typer.Option(
            help=f"Comma-separated stages out of {', '.join(STAGE_NAMES)} (oracle: an "
            "independent classifier; cvae: the CGM baseline)."
        ),
    ] = "vae,classifier,flow",
    device: Device = None,
    track: Annotated[
        list[str] | None,
        typer.Option(
            help="Record every stage's losses: tensorboard:DIR (event files for "
            "`tensorboard --logdir DIR`) or mlflow:DIR (an MLflow store DIR/mlflow.db) or "
            "mlflow:URI (a tracking server); repeatable. Needs leapfactual[tensorboard] or "
            "leapfactual[mlflow] [default: none]."
        ),
    ] = None,
) -> None:
    """Train the VAE, the classifier (unless --classifier gives yours) and the CE-CFM flow.

    Re-running completes missing stages and reuses finished ones; an interrupted stage resumes
    from its last epoch. Under `torchrun --nproc-per-node N -m leapfactual fit ...` every
    stage trains data-parallel on N processes (same global batch) and rank 0 writes the run.
    """
    cfg = settings(
        FitSettings,
        config,
        {
            "data": data,
            "seed": seed,
            "test_fraction": test_fraction,
            "image_size": parse_size(image_size),
            "aspect": aspect,
            "channels": channels,
            "classifier.spec": classifier,
            "codec.spec": codec,
            "classifier.kind": kind,
            "vae.latent_dim": latent_dim,
            "vae.kind": vae_kind,
            "vae.epochs": vae_epochs,
            "classifier.epochs": classifier_epochs,
            "flow.epochs": flow_epochs,
            "flow.field": flow_field,
            "flow.condition": condition,
        },
        set_,
    )  # bad settings: refused before torch loads
    chosen = check_stages(tuple(s.strip() for s in stages.split(",") if s.strip()))
    from leapfactual.distributed import finish, world
    from leapfactual.pipeline import fit_run, verdict_headline
    from leapfactual.training import tracker

    trackers = [tracker(spec) for spec in track or []]  # checked before any training
    with ExitStack() as open_trackers:
        for made in trackers:
            open_trackers.enter_context(made)
        run = fit_run(out, cfg, chosen, progress=True, device=device, callbacks=trackers)
    if world().is_main:
        verdict = run.verdict
        lines = [verdict_headline(None)] if verdict is None else verdict.lines()
        for line in lines:
            typer.echo(line)
        c, h, w = run.image_shape
        typer.echo(f"images: {c} x {h} x {w} ({len(run.class_names)} classes)")
        for key, value in run.summary.items():
            typer.echo(f"{key}: {value:.4f}")
        for stage, stopped in run.meta.get("stopping", {}).items():
            typer.echo(f"{stage}: {stopped['epochs']} epochs, {stopped['reason']}")
        for note in run.meta.get("notes", []):
            typer.echo(f"note: {note}")
        for warning in run.warnings:
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(f"run: {out}")
    finish()


def parse_size(text: str | None) -> int | tuple[int, int] | None:
    """``--image-size``: ``64`` (a side) or ``24x48`` (height x width)."""
    if text is None:
        return None
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) in (1, 2) and all(p.isdigit() and int(p) >= 1 for p in parts):
        sizes = [int(p) for p in parts]
        return sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1])
    raise ValueError(
        f"--image-size takes a side (64) or HEIGHTxWIDTH (24x48) in pixels, got {text!r}"
    )
