"""docs/architecture.md's rule: imports point down the layers, never up."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "leapfactual"
LAYERS = [
    ("io",),
    ("distributed",),
    ("training",),
    ("morpho",),
    ("data", "models"),
    ("flow",),
    ("explain",),
    ("metrics",),
    ("pipeline",),
    ("bench",),
    ("report",),
    ("audit",),
    ("experiments",),
    ("cli",),
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def test_no_import_runs_back_up_the_layers() -> None:
    upward = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) == 1:
            continue
        here = parts[0]
        for name in re.findall(r"^\s*(?:from|import) leapfactual\.(\w+)", path.read_text(), re.M):
            if RANK.get(name, -1) > RANK[here]:
                upward.append(f"{path.relative_to(PACKAGE)} imports leapfactual.{name}")
    assert upward == []


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(RANK)
