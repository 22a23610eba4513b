"""docs/grouped_params.py: parameters documented together get one row each."""

from __future__ import annotations

import runpy
from pathlib import Path

SPLIT = runpy.run_path(str(Path(__file__).resolve().parents[2] / "docs" / "grouped_params.py"))[
    "split_groups"
]


def test_a_grouped_item_becomes_one_item_per_name_with_its_continuation() -> None:
    doc = (
        "Train it.\n\nArgs:\n    model: the module.\n    lr, weight_decay: Adam, or AdamW\n"
        "        when weight_decay > 0.\n    seed: the seed.\n\nReturns:\n    x, y: kept.\n"
    )
    assert SPLIT(doc) == (
        "Train it.\n\nArgs:\n    model: the module.\n    lr: Adam, or AdamW\n"
        "        when weight_decay > 0.\n    weight_decay: Adam, or AdamW\n"
        "        when weight_decay > 0.\n    seed: the seed.\n\nReturns:\n    x, y: kept.\n"
    )


def test_prose_outside_argument_sections_is_left_alone() -> None:
    doc = (
        "Summary.\n\n    a, b: not an argument list.\n\nAttributes:\n"
        "    z, z_cf (Tensor): latents.\n"
    )
    assert SPLIT(doc) == (
        "Summary.\n\n    a, b: not an argument list.\n\nAttributes:\n"
        "    z (Tensor): latents.\n    z_cf (Tensor): latents.\n"
    )
