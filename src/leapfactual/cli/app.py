"""Entry point of the ``leapfactual`` command line.

Bad input ends with a one-line message and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import torch
import typer

from leapfactual.io import CheckpointError
from leapfactual.pipeline import FitConfig

app = typer.Typer(
    name="leapfactual",
    help="Visual counterfactual explanations for image classifiers (LeapFactual, CE-CFM).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
USER_ERRORS = (ValueError, CheckpointError, FileNotFoundError, PermissionError)
state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    state["debug"] = debug


@app.command()
def toy(
    out: Annotated[Path, typer.Option(help="Directory for toy.png.")] = Path("runs/toy"),
    epochs: Annotated[int, typer.Option(min=1, help="Flow training epochs over the points.")] = 150,
    seed: Annotated[int, typer.Option(help="Seed of data, weights and sampling.")] = 0,
) -> None:
    """Train the 2-D quadrant flow and draw the paper's five-panel toy figure."""
    from leapfactual.experiments.toy import ToyConfig, run_toy

    result = run_toy(out, ToyConfig(epochs=epochs, seed=seed), progress=True)
    exp = result.explanation
    typer.echo(
        f"CE validity {exp.valid.float().mean():.2f}, reliable CE validity "
        f"{exp.valid_reliable.float().mean():.2f} (start points -> quadrant 3)"  # type: ignore[union-attr]
    )
    typer.echo(f"figure: {result.figure}")


@app.command()
def demo(
    out: Annotated[
        Path,
        typer.Option(
            help="Directory for report.html, grid.png, metrics.json and the cached run (out/run)."
        ),
    ] = Path("runs/demo"),
    n: Annotated[int, typer.Option(min=1, help="Held-out digits to explain.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of split, training and targets.")] = 0,
    vae_epochs: Annotated[
        int, typer.Option(min=1, help="VAE training epochs.")
    ] = FitConfig.vae_epochs,
    classifier_epochs: Annotated[
        int, typer.Option(min=1, help="Classifier epochs.")
    ] = FitConfig.classifier_epochs,
    flow_epochs: Annotated[
        int, typer.Option(min=1, help="Flow training epochs.")
    ] = FitConfig.flow_epochs,
) -> None:
    """Explain real MNIST digits (mnist5k) and write an HTML report (trains once, then reuses)."""
    from leapfactual.experiments.demo import DemoConfig, run_demo

    fit = FitConfig(
        seed=seed,
        vae_epochs=vae_epochs,
        classifier_epochs=classifier_epochs,
        flow_epochs=flow_epochs,
    )
    result = run_demo(out, fit, DemoConfig(n_explain=n, seed=seed), progress=True)
    m = result.metrics
    typer.echo(
        f"{m['held_out_explained']} held-out digits: CE validity {m['ce_validity']:.3f}, reliable "
        f"CE validity {m.get('ce_validity_reliable', float('nan')):.3f}, "
        f"{m['ce_seconds_per_ce'] * 1000:.1f} ms per CE; total {m['total_seconds']:.0f} s"
    )
    typer.echo(f"grid:    {result.grid}\nmetrics: {result.metrics_path}")
    typer.echo(f"report:  {result.report.resolve()}")


@app.command()
def fit(
    out: Annotated[Path, typer.Option(help="Run directory to create or complete.")],
    data: Annotated[
        str,
        typer.Option(
            help="Dataset: mnist5k, digits, fashion-mnist[:DIR], "
            "idx:DIR, image-folder:DIR, galaxy10:FILE.h5."
        ),
    ] = "mnist5k",
    seed: Annotated[int, typer.Option(help="Seed of split and training.")] = 0,
    test_fraction: Annotated[float, typer.Option(min=0.01, max=0.9, help="Held-out share.")] = 0.2,
    latent_dim: Annotated[int, typer.Option(min=1, help="VAE latent size.")] = FitConfig.latent_dim,
    vae_epochs: Annotated[int, typer.Option(min=1, help="VAE epochs.")] = FitConfig.vae_epochs,
    classifier_epochs: Annotated[
        int, typer.Option(min=1, help="Classifier epochs.")
    ] = FitConfig.classifier_epochs,
    flow_epochs: Annotated[int, typer.Option(min=1, help="Flow epochs.")] = FitConfig.flow_epochs,
    condition: Annotated[
        str, typer.Option(help="Flow condition: softmax, onehot, class.")
    ] = "softmax",
    stages: Annotated[
        str,
        typer.Option(
            help="Comma-separated stages: vae, classifier, flow, "
            "oracle (independent classifier), cvae (CGM baseline)."
        ),
    ] = "vae,classifier,flow",
) -> None:
    """Train the VAE, the classifier and the CE-CFM flow on a dataset into a run directory.

    Re-running completes missing stages and reuses finished ones; an interrupted stage resumes
    from its last epoch.
    """
    from leapfactual.pipeline import fit_run

    config = FitConfig(
        data=data,
        seed=seed,
        test_fraction=test_fraction,
        latent_dim=latent_dim,
        vae_epochs=vae_epochs,
        classifier_epochs=classifier_epochs,
        flow_epochs=flow_epochs,
        condition=condition,
    )
    run = fit_run(
        out, config, tuple(s.strip() for s in stages.split(",") if s.strip()), progress=True
    )
    for key, value in (run.summary or {}).items():
        typer.echo(f"{key}: {value:.4f}")
    typer.echo(f"run: {out}")


@app.command()
def explain(
    run: Annotated[Path, typer.Argument(help="Run directory made by `leapfactual fit`.")],
    out: Annotated[Path, typer.Option(help="Output directory (explanation + report.html).")],
    images: Annotated[
        str,
        typer.Option(
            help="'test' or 'train' (the run's split), or image "
            "files / a folder of PNG or JPEG files."
        ),
    ] = "test",
    target: Annotated[
        str, typer.Option(help="A class index, 'next', 'random' or 'all-others'.")
    ] = "random",
    limit: Annotated[int, typer.Option(min=1, help="Explain at most this many inputs.")] = 64,
    blend_gamma: Annotated[float, typer.Option(help="Blending gamma.")] = 0.1,
    blend_steps: Annotated[int, typer.Option(min=0, help="Blending leaps.")] = 15,
    tol: Annotated[
        float | None,
        typer.Option(
            help="Stop blending a sample once its latent moves less than this (RMS) per leap."
        ),
    ] = None,
    inject_steps: Annotated[
        int, typer.Option(min=0, help="Injection leaps (0: no reliable CE).")
    ] = 5,
    inject_lift: Annotated[float, typer.Option(help="Injection lift gamma.")] = 0.0,
    inject_land: Annotated[float, typer.Option(help="Injection land gamma.")] = 0.1,
    solver: Annotated[str, typer.Option(help="euler, midpoint, rk4 or dopri5.")] = "rk4",
    solver_steps: Annotated[int, typer.Option(min=1, help="Fixed-step solver steps.")] = 4,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per internal batch.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed for 'random' targets.")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output directory.")] = False,
) -> None:
    """Make counterfactuals with a fitted run and write them (safetensors) with a report."""
    from leapfactual.explain import Blend, Inject
    from leapfactual.explain.targets import parse_targets
    from leapfactual.flow import Solver
    from leapfactual.pipeline import load_run

    _check_output(out, force)
    fitted = load_run(run)
    x, names = _inputs(fitted, images)
    x = x[:limit]
    fitted.require("classifier")
    with torch.no_grad():
        labels = fitted.classifier(x).argmax(1)  # type: ignore[misc]
    rows, targets = parse_targets(target, labels, fitted.dataset.num_classes, seed)
    explainer = fitted.explainer(
        blend=Blend(blend_gamma, blend_steps, tol),
        inject=Inject(inject_lift, inject_land, inject_steps) if inject_steps else None,
        solver=Solver(solver, solver_steps),
        trajectory="images",
        batch_size=batch_size,
        progress=True,
    )
    exp = explainer.explain(x[rows], targets)
    exp.config["inputs"] = [names[i] for i in rows.tolist()] if names else images
    exp.save(out)
    page = _write_report(exp, fitted.dataset.class_names, out, f"leapfactual explain {run}")
    typer.echo(
        f"{len(exp)} counterfactuals: validity {exp.valid.float().mean():.3f}"
        + (
            f", reliable {exp.valid_reliable.float().mean():.3f}"
            if exp.valid_reliable is not None
            else ""
        )
    )
    typer.echo(f"explanation: {out}\nreport: {page}")


@app.command()
def report(
    explanation: Annotated[
        Path, typer.Argument(help="Directory written by `leapfactual explain`.")
    ],
    out: Annotated[Path | None, typer.Option(help="HTML file (default: DIR/report.html).")] = None,
    run: Annotated[Path | None, typer.Option(help="Run directory, for class names.")] = None,
) -> None:
    """Write the HTML report of a saved explanation."""
    from leapfactual.explain import Explanation
    from leapfactual.pipeline import load_run

    exp = Explanation.load(explanation)
    names = (
        load_run(run).dataset.class_names if run else [str(k) for k in range(exp.probs.shape[1])]
    )
    page = _write_report(exp, names, explanation, f"leapfactual report {explanation}", out)
    typer.echo(f"report: {page}")


def _check_output(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()) and not force:
        raise ValueError(
            f"{out} already exists and is not empty; choose another --out or add "
            "--force to overwrite it"
        )


def _inputs(run: Any, spec: str) -> tuple[torch.Tensor, list[str]]:
    if spec in ("test", "train"):
        return getattr(run, spec).images, []
    from leapfactual.data import load_image_files

    channels, size, _ = run.dataset.shape
    paths = [p for p in spec.split(",") if p]
    return load_image_files(paths, size=size, channels=channels)


def _write_report(
    exp: Any, names: list[str], out: Path, command: str, page: Path | None = None
) -> Path:
    from leapfactual.report import build_report, write_report

    built = build_report(
        exp,
        names,
        title=f"Counterfactuals: {exp.method}",
        subtitle=f"{len(exp)} counterfactuals",
        notes=[f"Produced by `{command}`."],
    )
    return write_report(built, page or out / "report.html")


def main() -> None:
    """Run the app; turn user errors into one line on stderr and exit code 2.

    Usage errors (unknown options, out-of-range values) are reported by typer itself, also
    with exit code 2.
    """
    try:
        app()
    except USER_ERRORS as err:
        if state["debug"]:
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
