"""The ``explain`` command: counterfactuals from a fitted run, saved with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli.common import check_output, inputs, write_report


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
    limit: Annotated[
        int, typer.Option(min=0, help="Explain at most this many inputs (0: all of them).")
    ] = 64,
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
    device: Annotated[
        str | None,
        typer.Option(help="cpu, cuda, cuda:1 ... (default: this rank's GPU if any, else cpu)."),
    ] = None,
    shard_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Stream to OUT/shards in shards of this many CEs (default 1024 under "
            "torchrun): memory stays flat, ranks share the shards, a restart skips finished ones.",
        ),
    ] = None,
    merge: Annotated[
        bool, typer.Option(help="Sharded: merge the shards into one explanation at the end.")
    ] = True,
    repeat: Annotated[
        int, typer.Option(min=1, help="Cycle the inputs this many times (scale tests).")
    ] = 1,
) -> None:
    """Make counterfactuals with a fitted run and write them (safetensors) with a report.

    With --shard-size, or under `torchrun --nproc-per-node N -m leapfactual explain ...`, the
    CEs stream to OUT/shards shard by shard (no trajectories, no report), shared among the
    ranks; running the same command again finishes an interrupted job.
    """
    from leapfactual.distributed import default_device, finish, init
    from leapfactual.distributed.shards import explain_sharded, merge_shards, predict_labels
    from leapfactual.explain import Blend, Inject
    from leapfactual.explain.targets import parse_targets
    from leapfactual.flow import Solver
    from leapfactual.pipeline import load_run

    ranks = init()
    sharded = shard_size is not None or ranks.distributed
    if not (sharded and (out / "shards" / "job.json").is_file()):
        check_output(out, force)
    fitted = load_run(run, device=device or default_device(ranks))
    fitted.require("classifier")
    x, names = inputs(fitted, images)
    n = len(x) if limit == 0 else min(limit, len(x))
    x = x[:n]
    labels = predict_labels(fitted.classifier, x, n, device=fitted.device)  # type: ignore[arg-type]
    labels = labels.repeat(repeat)
    rows, targets = parse_targets(target, labels, fitted.dataset.num_classes, seed)
    explainer = fitted.explainer(
        blend=Blend(blend_gamma, blend_steps, tol),
        inject=Inject(inject_lift, inject_land, inject_steps) if inject_steps else None,
        solver=Solver(solver, solver_steps),
        trajectory="none" if sharded else "images",
        batch_size=batch_size,
        progress=not sharded,
    )
    if sharded:
        job = {"run": str(run.resolve()), "images": images, "limit": n, "repeat": repeat}
        done = explain_sharded(
            explainer,
            lambda idx: x[idx % n],
            targets,
            out,
            rows=rows,
            shard_size=shard_size or 1024,
            job=job,
            overwrite=force,
            progress=ranks.is_main,
        )
        if ranks.is_main:
            typer.echo(
                f"{done.total} shards of {shard_size or 1024} CEs in {done.directory}: "
                f"{len(done.skipped)} were already done, rank 0 made {len(done.computed)}"
            )
            if merge:
                exp = merge_shards(out)
                typer.echo(f"{len(exp)} counterfactuals: validity {exp.valid.float().mean():.3f}")
                typer.echo(f"explanation: {out} (report: `leapfactual report {out}`)")
        finish()
        return
    exp = explainer.explain(x[rows % n], targets)
    exp.config["inputs"] = [names[i % n] for i in rows.tolist()] if names else images
    exp.save(out)
    page = write_report(exp, fitted.dataset.class_names, out, f"leapfactual explain {run}")
    typer.echo(
        f"{len(exp)} counterfactuals: validity {exp.valid.float().mean():.3f}"
        + (
            f", reliable {exp.valid_reliable.float().mean():.3f}"
            if exp.valid_reliable is not None
            else ""
        )
    )
    typer.echo(f"explanation: {out}\nreport: {page}")
