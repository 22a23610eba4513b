"""The ``explain`` command: counterfactuals from a fitted run, saved with a report."""

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli.common import (
    Config,
    Device,
    ExtraPaths,
    Order,
    Samples,
    Set,
    ThumbSize,
    refuse_extra_paths,
    saved_before,
    settings,
    write_report,
)
from leapfactual.explain import BUILT_IN_METHODS, Inject
from leapfactual.flow import ADAPTIVE, FIXED_STEP_METHODS
from leapfactual.pipeline import ExplainSettings

_D = ExplainSettings()
_SOLVERS = ", ".join([*FIXED_STEP_METHODS, *ADAPTIVE])
_INJECT = _D.inject or Inject()
_INJECT_STEPS = _D.inject.steps if _D.inject else 0
TRAJECTORY_COST = (
    "Explanation size per CE on the 28x28 demo run (python benchmarks/trajectory_bytes.py): "
    "none 10.0 KB, latents 13.5 KB, images 79.3 KB."
)


def explain(
    run: Annotated[Path, typer.Argument(help="Run directory made by `leapfactual fit`.")],
    out: Annotated[Path, typer.Option(help="Output directory (explanation + report.html).")],
    images: Annotated[
        list[str] | None,
        typer.Option(
            help="'test' or 'train' (the run's split), or image files, folders, class-folder "
            "trees (taken evenly over the classes under --limit) or a quoted glob pattern "
            "('imgs/*.png'); repeat --images for several [default: test]."
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help=f"Method: {', '.join(BUILT_IN_METHODS)} or a plugin's [default: {_D.method}]."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help=f"A class index, 'next', 'random' or 'all-others' [default: {_D.target}]."
        ),
    ] = None,
    target_value: Annotated[
        float | None,
        typer.Option(
            help="A regressor's run: the value every CE should reach (e.g. 4.0) [default: none]."
        ),
    ] = None,
    target_shift: Annotated[
        float | None,
        typer.Option(
            help="A regressor's run: each CE's target is its prediction plus this [default: none]."
        ),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(
            help="A regressor's run: a CE is valid when |f(x') - target| <= this (its units) "
            "[default: none; a regressor's run needs it]."
        ),
    ] = None,
    diverse: Annotated[
        int | None,
        typer.Option(
            min=1, help=f"LeapFactual: this many different CEs per input [default: {_D.diverse}]."
        ),
    ] = None,
    diversity: Annotated[
        str | None,
        typer.Option(
            help="How the diverse CEs differ: noise (seeded noise in each landing) or repel "
            f"(also avoid the earlier CEs' changes) [default: {_D.diversity.mechanism}]."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=0, help=f"Explain at most this many inputs, 0: all [default: {_D.limit}]."
        ),
    ] = None,
    config: Config = None,
    set_: Set = None,
    blend_gamma: Annotated[
        float | None, typer.Option(help=f"Blending gamma [default: {_D.blend.gamma}].")
    ] = None,
    blend_steps: Annotated[
        int | None, typer.Option(min=0, help=f"Blending leaps [default: {_D.blend.steps}].")
    ] = None,
    tol: Annotated[
        float | None,
        typer.Option(
            help="Stop blending a sample once its latent moves less than this (RMS) per leap "
            "[default: none: every leap runs]."
        ),
    ] = None,
    settle: Annotated[
        float | None,
        typer.Option(
            help="Stop blending a sample once it is in the target class and its target "
            "probability rose less than this in a leap [default: none: every leap runs]."
        ),
    ] = None,
    boost: Annotated[
        float | None,
        typer.Option(
            help="Blending gamma times this until a sample is in the target class "
            f"[default: {_D.blend.boost}]."
        ),
    ] = None,
    inject_steps: Annotated[
        int | None,
        typer.Option(
            min=0,
            help=f"Injection leaps, 0: no reliable CE [default: {_INJECT_STEPS}].",
        ),
    ] = None,
    inject_lift: Annotated[
        float | None, typer.Option(help=f"Injection lift gamma [default: {_INJECT.gamma_lift}].")
    ] = None,
    inject_land: Annotated[
        float | None, typer.Option(help=f"Injection land gamma [default: {_INJECT.gamma_land}].")
    ] = None,
    solver: Annotated[
        str | None, typer.Option(help=f"ODE solver: {_SOLVERS} [default: {_D.solver.method}].")
    ] = None,
    solver_steps: Annotated[
        int | None,
        typer.Option(min=1, help=f"Fixed-step solver steps [default: {_D.solver.steps}]."),
    ] = None,
    solver_checkpoints: Annotated[
        int | None,
        typer.Option(
            min=2,
            help="Adaptive solvers: also end a step on this many evenly spaced times per lift "
            "and land (the paper: --solver dopri5 --solver-checkpoints 5) [default: none: the "
            "solver's own steps only].",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help=f"Images per internal batch [default: {_D.batch_size}]."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help=f"Seed of 'random' targets [default: {_D.seed}].")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output directory.")] = False,
    device: Device = None,
    shard_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Stream to OUT/shards in shards of this many CEs: memory stays flat, ranks "
            "share the shards, a restart skips finished ones [default: none: in memory; 1024 "
            "under torchrun].",
        ),
    ] = None,
    merge: Annotated[
        bool, typer.Option(help="Sharded: merge the shards into one explanation at the end.")
    ] = True,
    trajectory: Annotated[
        str,
        typer.Option(
            help="Keep per leap: none, latents (the report decodes the shown cards' paths) or "
            "images. " + TRAJECTORY_COST
        ),
    ] = "latents",
    nonfinite: Annotated[
        str | None,
        typer.Option(
            help="What a NaN or infinite classifier / codec output does: error (stop, naming "
            "the model and the step) or invalid (mark the sample invalid, its CE its input, "
            f"and count it) [default: {_D.nonfinite}]."
        ),
    ] = None,
    samples: Samples = 12,
    order: Order = "failures",
    thumb_size: ThumbSize = 32,
    repeat: Annotated[
        int, typer.Option(min=1, help="Cycle the inputs this many times (scale tests).")
    ] = 1,
    extra: ExtraPaths = None,
) -> None:
    """Make counterfactuals with a fitted run and write them (safetensors) with a report.

    With --shard-size, or under `torchrun --nproc-per-node N -m leapfactual explain ...`, the
    CEs stream to OUT/shards shard by shard (no trajectories, no report), shared among the
    ranks; running the same command again finishes an interrupted job.
    """
    refuse_extra_paths(extra)  # before any work
    flags = {
        "method": method,
        "target": target,
        "limit": limit,
        "batch_size": batch_size,
        "seed": seed,
        "target_value": target_value,
        "target_shift": target_shift,
        "tolerance": tolerance,
        "diverse": diverse,
        "diversity.mechanism": diversity,
        "nonfinite": nonfinite,
        "blend.gamma": blend_gamma,
        "blend.steps": blend_steps,
        "blend.tol": tol,
        "blend.settle": settle,
        "blend.boost": boost,
        "solver.method": solver,
        "solver.steps": solver_steps,
        "solver.checkpoints": solver_checkpoints,
        "inject.gamma_lift": inject_lift,
        "inject.gamma_land": inject_land,
        "inject.steps": inject_steps or None,
        "inject": "none" if inject_steps == 0 else None,  # last: no reliable CE at all
    }
    job = settings(ExplainSettings, config, flags, set_)  # bad settings: before torch loads

    from leapfactual.distributed import finish, world
    from leapfactual.io import kept_note
    from leapfactual.pipeline import explain_run, verdict_headline
    from leapfactual.report import check_order

    check_order(order)  # before any work
    result = explain_run(
        run,
        out,
        images=images or "test",
        settings=job,
        shard_size=shard_size,
        repeat=repeat,
        merge=merge,
        force=force,
        device=device,
        trajectory=trajectory,
        progress=True,
    )
    if not world().is_main:
        finish()
        return
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if result.kept:
        typer.echo(f"note: {kept_note(out, result.kept)}", err=True)
    exp = result.explanation
    if result.shards is not None:
        done = result.shards
        typer.echo(
            f"{done.total} shards in {done.directory}: {len(done.skipped)} were already done, "
            f"rank 0 made {len(done.computed)}"
        )
    made = exp if exp is not None else result.stored
    if result.run is not None:
        typer.echo(verdict_headline(result.run.verdict))  # before any validity
    if made is not None:
        line = f"{len(made)} counterfactuals: validity {made.valid.float().mean():.3f}"
        if exp is not None and exp.robust is not None:
            line += f", robust {exp.robust.float().mean():.3f}"
        reliable = made.valid_reliable
        if reliable is not None:
            line += f", reliable {reliable.float().mean():.3f}"
        if made.nonfinite is not None:
            line += f"; {int(made.nonfinite.sum())} marked invalid (non-finite model outputs)"
        typer.echo(line)
        if exp is not None:
            with saved_before(out):
                page = write_report(
                    exp,
                    result.class_names,
                    out,
                    f"leapfactual explain {run}",
                    run=result.run,
                    samples=samples,
                    order=order,
                    seed=job.seed,
                    thumb_size=thumb_size,
                )
            typer.echo(f"explanation: {out}\nreport: {page}")
        else:
            typer.echo(f"explanation: {out} (report: `leapfactual report {out}`)")
    finish()
