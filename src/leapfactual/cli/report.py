"""The ``report`` command: the HTML page of a saved explanation."""

from pathlib import Path
from typing import Annotated

import typer

from leapfactual.cli.common import Order, Samples, Seed, ThumbSize, write_report


def report(
    explanation: Annotated[
        Path, typer.Argument(help="Directory written by `leapfactual explain`.")
    ],
    out: Annotated[Path | None, typer.Option(help="HTML file (default: DIR/report.html).")] = None,
    run: Annotated[
        Path | None,
        typer.Option(
            help="Run directory: class names, its codec to draw latent trajectories, its "
            "oracle (if fitted) for oracle validity [default: the run recorded in the "
            "explanation, if it is still there]."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --out file.")] = False,
    samples: Samples = 12,
    order: Order = "failures",
    seed: Seed = 0,
    thumb_size: ThumbSize = 32,
) -> None:
    """Write the HTML report of a saved explanation.

    The default page (DIR/report.html) belongs to the explanation and is always rewritten; an
    existing --out file elsewhere is kept unless --force is given.
    """
    if out is not None and out.is_dir():
        raise ValueError(f"--out {out} is a directory; give the path of an HTML file")
    if out is not None and out.exists() and not force:
        raise ValueError(f"{out} already exists; choose another --out or add --force to replace it")
    from leapfactual.explain import Explanation
    from leapfactual.pipeline import load_run

    exp = Explanation.load(explanation)
    recorded = exp.config.get("run")
    if run is None and isinstance(recorded, str) and (Path(recorded) / "run.json").is_file():
        run = Path(recorded)
    fitted = load_run(run) if run else None
    names = fitted.class_names if fitted else [str(k) for k in range(exp.probs.shape[1])]
    command = f"leapfactual report {explanation}" + (f" --run {run}" if run else "")
    page = write_report(
        exp, names, explanation, command, out, fitted, samples, order, seed, thumb_size
    )
    typer.echo(f"report: {page}")
