"""What CLI commands share: option types, settings from a file plus flags, report writing."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

T = TypeVar("T")

Device = Annotated[
    str | None,
    typer.Option(help="cpu, cuda, cuda:1 ... (default: this rank's GPU if any, else cpu)."),
]
Config = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML settings file (one table per model, e.g. [vae] epochs = 40); "
        "flags and --set override it [default: none: the built-in settings].",
    ),
]
Set = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override any setting: KEY=VALUE, e.g. --set vae.epochs=40 --set flow.width=128 "
        "(repeatable; applied after --config and the other flags) [default: none].",
    ),
]
ExtraPaths = Annotated[
    list[str] | None,
    typer.Argument(hidden=True, help="Paths after the run directory (refused with a hint)."),
]
"""Catches the paths an unquoted glob becomes, to refuse them with a hint, not typer's box."""


def refuse_extra_paths(extra: list[str] | None) -> None:
    """Paths after the run directory: a shell-expanded glob (``--images imgs/*.png``) or
    several paths given to one ``--images``; a one-line error saying how to pass them."""
    if extra:
        shown = ", ".join(extra[:3]) + (", ..." if len(extra) > 3 else "")
        raise ValueError(
            f"got {len(extra)} more path(s) after the run directory ({shown}): an unquoted "
            "glob such as --images imgs/*.png is expanded by the shell into many paths; quote "
            "it (--images 'imgs/*.png') or repeat --images before each path"
        )


Limit = Annotated[int, typer.Option(min=0, help="Explain at most this many inputs (0: all).")]
Seed = Annotated[int, typer.Option(help="Seed of every random choice.")]


def settings(cls: type[T], config: Path | None, flags: dict[str, Any], sets: list[str] | None) -> T:
    """Settings of ``cls``: its defaults, then the ``--config`` file, then the flags given
    (``None`` = not given; keys are dotted paths), then ``--set KEY=VALUE``."""
    from leapfactual.pipeline import from_dict, load_toml, override, parse_assignments

    base = from_dict(cls, load_toml(config)) if config is not None else cls()
    given = {k: v for k, v in flags.items() if v is not None}
    return override(override(base, given, parse=False), parse_assignments(sets or []))


Samples = Annotated[int, typer.Option("--samples", min=0, help="CEs shown as cards in the report.")]
ThumbSize = Annotated[
    int,
    typer.Option(
        "--thumb-size",
        min=8,
        max=512,
        help="Height in pixels of the input-and-CE thumbnails in the report's failures and "
        "list of all CEs (small images are enlarged, pixelated).",
    ),
]
Order = Annotated[
    str,
    typer.Option(
        "--order",
        help="Which CEs the report shows as cards: failures (those that missed their target "
        "first), random (seeded by --seed), per-class (one source class after another) or first.",
    ),
]


def write_report(
    exp: Any,
    names: list[str],
    out: Path,
    command: str,
    page: Path | None = None,
    run: Any = None,
    samples: int = 12,
    order: str = "failures",
    seed: int = 0,
    thumb_size: int = 32,
) -> Path:
    """Write the report of ``exp`` (``run``: its run, to decode latent trajectories and
    give oracle validity) to ``page`` or ``out/report.html``."""
    from leapfactual.report import build_report, write_report

    if exp.tolerance is not None:  # a regressor's CEs: targets are values, not classes
        from leapfactual.report import write_side_by_side_page

        title = f"Counterfactuals of a regressor: {exp.method}"
        notes = [f"Produced by `{command}`."]
        return write_side_by_side_page(exp, names, page or out / "report.html", title, notes)
    built = build_report(
        exp,
        names,
        title=f"Counterfactuals: {exp.method}",
        subtitle=f"{len(exp)} counterfactuals",
        notes=[f"Produced by `{command}`."],
        samples=samples,
        order=order,
        seed=seed,
        run=run,
        thumb_size=thumb_size,
    )
    return write_report(built, page or out / "report.html")


@contextmanager
def saved_before(out: Path) -> Iterator[None]:
    """Writing the page of an explanation already saved in ``out``: a full disk says that the
    explanation is complete and how to write the page again (``leapfactual report OUT``)."""
    try:
        yield
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise OSError(  # no errno: the line is the message, with no generic disk advice
            f"the disk is full: the explanation is saved complete in {out} (explanation."
            "safetensors and explanation.json), but its page could not be written; free space "
            f"and write it with `leapfactual report {out}`",
        ) from err
