"""The 2-D quadrant toy (docs/method.md §6.1): flows, single leaps, and blending then injection.

Points are uniform on ``[-0.5, 0.5]^2``; the class is the quadrant (0: x<0,y<0; 1: x<0,y>0;
2: x>0,y<0; 3: x>0,y>0). The flow starts from the same uniform square, is conditioned on the
class as a scalar, and the "classifier" is the quadrant rule itself: a plain function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

from leapfactual.distributed import resolve_device
from leapfactual.explain import Explanation
from leapfactual.flow import Solver, VectorField, integrate, leap
from leapfactual.pipeline import FlowSettings, fit_flow
from leapfactual.testing import (
    QUADRANT_STARTS,
    quadrant_labels,
)
from leapfactual.testing import quadrant_explainer as toy_explainer

STARTS = QUADRANT_STARTS
TARGET = 3
COLOURS = ("#4477aa", "#ee6677", "#228833", "#ccbb44")


@dataclass(frozen=True)
class ToyConfig:
    """Sizes of the toy run; the defaults take about half a minute on 2 CPU cores."""

    points: int = 16384
    epochs: int = 150
    batch_size: int = 256
    lr: float = 2e-3
    width: int = 64
    depth: int = 3
    solver: Solver = Solver("rk4", 16)
    seed: int = 0


def train_toy_flow(
    config: ToyConfig = ToyConfig(),
    progress: bool = False,
    device: str | torch.device | None = None,
) -> VectorField:
    """Train the quadrant flow: points uniform on the square, scalar class conditions, paths
    from the square's own uniform source, on ``device`` (default: the CPU)."""
    gen = torch.Generator().manual_seed(config.seed)
    points = torch.rand(config.points, 2, generator=gen) - 0.5
    settings = FlowSettings(
        width=config.width,
        depth=config.depth,
        activation="silu",
        epochs=config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        condition="scalar",
        lr_milestones=(int(config.epochs * 0.8),),
        source="uniform",
        source_bounds=(-0.5, 0.5),
    )
    labels = F.one_hot(quadrant_labels(points), 4).float()  # the rule's (certain) outputs
    return fit_flow(points, labels, settings, config.seed, progress=progress, device=device)


@dataclass
class ToyResult:
    field: VectorField
    explanation: Explanation
    figure: Path | None


def run_toy(
    out_dir: str | Path | None = "runs/toy",
    config: ToyConfig = ToyConfig(),
    progress: bool = False,
    device: str | torch.device | None = None,
) -> ToyResult:
    """Train the toy flow and explain the four start points toward quadrant 3 on ``device``
    (default: this rank's GPU if any, else the CPU), then draw the figure (on the CPU)."""
    field = train_toy_flow(config, progress, resolve_device(device))
    exp = toy_explainer(field, config.solver).explain(STARTS, TARGET)
    field = field.cpu()
    figure = None
    if out_dir is not None:
        figure = plot_toy(field, exp, Path(out_dir) / "toy.png", config)
    return ToyResult(field, exp, figure)


@torch.no_grad()
def plot_toy(
    field: VectorField, exp: Explanation, out: Path, config: ToyConfig = ToyConfig()
) -> Path:
    """Write the five panels (a)-(e) of the paper's toy figure as one PNG."""
    from leapfactual.report import figure

    spec, solver = field.condition, config.solver
    starts = exp.x
    source = field.condition.from_labels(quadrant_labels(starts))
    target = field.condition.from_labels(torch.full((len(starts),), TARGET))
    fig = figure(figsize=(20, 4.3), layout="constrained")
    axes = fig.subplots(1, 5)
    titles = [
        "(a) class-conditional flows",
        "(b) one leap, γ = 1",
        "(c) one leap, γ = 0.3",
        "(d) land only, γ_land = 1",
        "(e) 8 blends + 3 injections",
    ]
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xlim(-0.62, 0.62)
        ax.set_ylim(-0.62, 0.62)
        ax.set_aspect("equal")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_title(title, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    gen = torch.Generator().manual_seed(config.seed + 1)
    for k in range(4):
        z0 = torch.rand(512, 2, generator=gen) - 0.5
        cond = spec.from_labels(torch.full((512,), k))

        def velocity(t: Tensor, z: Tensor, c: Tensor = cond) -> Tensor:
            return field(t, z, c)

        path = integrate(velocity, z0, 0.0, 1.0, solver, path=True)
        for i in range(0, 512, 16):
            axes[0].plot(path[:, i, 0], path[:, i, 1], color=COLOURS[k], lw=0.4, alpha=0.5)
        axes[0].scatter(path[-1, :, 0], path[-1, :, 1], s=2, color=COLOURS[k])
    for ax, (g_lift, g_land) in zip(axes[1:4], [(1.0, 1.0), (0.3, 0.3), (0.0, 1.0)], strict=True):
        path = leap(field, starts, source, target, g_lift, g_land, solver, path=True)
        _draw_paths(ax, starts, path)
    traj = exp.trajectory
    assert traj is not None
    n_blend = exp.config["blend"]["steps"]
    for i in range(len(starts)):
        colour = COLOURS[int(exp.source[i])]
        axes[4].plot(
            traj[i, : n_blend + 1, 0], traj[i, : n_blend + 1, 1], "-o", color=colour, ms=2.5, lw=1
        )
        axes[4].plot(traj[i, n_blend:, 0], traj[i, n_blend:, 1], "--s", color="k", ms=2.5, lw=1)
        axes[4].scatter(*starts[i], color=colour, s=40, edgecolor="k", zorder=3)
    axes[4].plot([], [], "-o", color="0.3", label="blending (CE)")
    axes[4].plot([], [], "--s", color="k", label="injection (reliable CE)")
    axes[4].legend(loc="lower left", fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.suptitle(
        "LeapFactual on the quadrant toy: start points explained toward quadrant 3 (top right)",
        fontsize=12,
    )
    fig.savefig(out, dpi=110)
    return out


def _draw_paths(ax, starts: Tensor, path: Tensor) -> None:
    for i in range(len(starts)):
        colour = COLOURS[int(quadrant_labels(starts[i : i + 1]))]
        ax.plot(path[:, i, 0], path[:, i, 1], color=colour, lw=1.2)
        ax.scatter(*starts[i], color=colour, s=40, edgecolor="k", zorder=3)
        ax.scatter(*path[-1, i], color=colour, marker="*", s=90, edgecolor="k", zorder=3)
