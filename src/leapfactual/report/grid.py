"""The source x target grid: a few inputs, each explained toward every other class."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from leapfactual.explain import Explanation


def source_target_grid(
    exp: Explanation, num_classes: int, labels: Tensor | None = None, reliable: bool = False
) -> Tensor:
    """Images ``[S, K, C, H, W]``: row s holds input s in the column of its label, its CEs
    toward every other class elsewhere.

    ``exp`` must explain S inputs toward all other classes of their label, the K - 1 rows
    of each input consecutive (as ``explain.targets.all_other_targets`` lays them out).
    ``labels`` ``[S]``: the inputs' true labels (default: the classifier's, ``exp.source``);
    placing an input by its true label keeps its CE toward the class the model wrongly
    gives it, so no cell is blank.
    """
    per = num_classes - 1
    if len(exp) % per:
        raise ValueError(f"{len(exp)} rows is not a multiple of {per} targets per input")
    rows = len(exp) // per
    own = exp.source[::per] if labels is None else labels
    if own.shape != (rows,):
        raise ValueError(
            f"labels must give one class per grid row ([{rows}]), got {tuple(own.shape)}"
        )
    images = exp.x_reliable if reliable and exp.x_reliable is not None else exp.x_cf
    grid = torch.ones(rows, num_classes, *exp.x.shape[1:])
    for i in range(len(exp)):
        row = i // per
        if int(exp.target[i]) == int(own[row]):
            raise ValueError(
                f"row {i} targets class {int(own[row])}, the label of its input; the grid needs "
                "every input explained toward every class but its label"
            )
        grid[row, int(exp.target[i])] = images[i].float().cpu()
        grid[row, int(own[row])] = exp.x[i].float().cpu()
    return grid


def save_grid_figure(
    grid: Tensor,
    class_names: Sequence[str],
    path: str | Path,
    title: str = "",
    row_labels: Sequence[str] = (),
    xlabel: str = "target class (the input itself sits in its own column)",
    ylabel: str = "input",
    outlined: Sequence[tuple[int, int]] = (),
) -> Path:
    """Write the grid as a PNG with rows labelled by source and columns by target class
    (``class_names`` titles the columns; ``xlabel`` and ``ylabel`` name the axes;
    ``outlined`` cells ``(row, column)`` get a red frame, e.g. inputs the model misreads)."""
    from leapfactual.io import to_uint8
    from leapfactual.report.figures import figure

    rows, cols = grid.shape[:2]
    fig = figure(figsize=(cols * 0.9 + 0.8, rows * 0.9 + 0.9))
    axes = fig.subplots(rows, cols, squeeze=False)
    grey = grid.shape[2] == 1
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(to_uint8(grid[r, c]), cmap="gray" if grey else None, vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if (r, c) in outlined:
                for spine in ax.spines.values():
                    spine.set(edgecolor="#c92a2a", linewidth=2.5)
            if r == 0:
                ax.set_title(str(class_names[c]), fontsize=9)
            if c == 0:
                label = row_labels[r] if r < len(row_labels) else f"row {r + 1}"
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
    fig.supxlabel(xlabel, fontsize=9)
    fig.supylabel(ylabel, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out
