"""docs/architecture.md's rules: imports point down the layers, never up; a package is used
from outside only through its face (its ``__init__``); the paper's experiments use the
library only through those faces, and the library never imports the paper."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "leapfactual"
PAPER = ROOT / "paper"
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
    ("report",),
    ("audit",),
    ("testing",),
    ("cli",),
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
PAPER_LAYERS = {
    "pages": 0,
    "tables": 0,
    "bench": 0,
    "experiments": 1,
    "cli": 2,
    "__main__": 3,
    "tests": 4,
}
FACE_EXCEPTIONS = {("src/leapfactual/__main__.py", "leapfactual.cli.console")}
"""(importing file, imported module) pairs allowed to reach past a face: ``python -m
leapfactual`` enters where the console script does (``pyproject.toml`` names that module),
which must import nothing before it checks for typer."""


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """Every ``from M import names`` (names ``[]`` for ``import M``) in ``path``, function
    bodies included."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def submodules(package: str) -> set[str]:
    """The modules of ``package`` that its face does not also export as names (a function
    ``leap`` in ``flow/leap.py`` is a name)."""
    here = PACKAGE / package
    modules = {p.stem for p in here.glob("*.py")} | {p.name for p in here.iterdir() if p.is_dir()}
    return modules - face(package)


def face(package: str) -> set[str]:
    """The names in ``leapfactual.PACKAGE.__all__``."""
    for node in ast.parse((PACKAGE / package / "__init__.py").read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__":
            return set(ast.literal_eval(node.value))
    return set()


def library_files() -> Iterator[tuple[Path, str | None]]:
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        yield path, parts[0] if len(parts) > 1 else None


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def face_violations(path: Path, own: str | None, paper: bool) -> list[str]:
    """Imports in ``path`` (of package ``own``) that reach past another package's face."""
    found = []
    for module, names in imports(path):
        parts = module.split(".")
        if parts[0] != "leapfactual":
            continue
        where = f"{_shown(path)} imports {module}"
        if len(parts) >= 2 and parts[1].startswith("_") and paper:
            found.append(f"{where} (private)")
            continue
        if len(parts) < 2 or parts[1] == own or not (PACKAGE / parts[1]).is_dir():
            continue
        if len(parts) > 2 and (_shown(path), module) not in FACE_EXCEPTIONS:
            found.append(f"{where} (past the face of leapfactual.{parts[1]})")
        reached = [n for n in names if n in submodules(parts[1]) or n.startswith("_")]
        if len(parts) == 2 and reached:
            found.append(f"{where} {reached} (a module or private name, not the face)")
    return found


def test_no_import_runs_back_up_the_layers() -> None:
    upward = []
    for path, here in library_files():
        if here is None:
            continue
        for module, _ in imports(path):
            parts = module.split(".")
            if parts[0] == "leapfactual" and len(parts) > 1 and RANK.get(parts[1], -1) > RANK[here]:
                upward.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert upward == []


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(RANK)


def test_packages_are_used_through_their_faces() -> None:
    found = [v for path, own in library_files() for v in face_violations(path, own, False)]
    assert found == []


def test_the_paper_uses_only_public_names_of_the_library() -> None:
    found = [v for path in PAPER.rglob("*.py") for v in face_violations(path, None, True)]
    assert found == []


def test_the_library_never_imports_the_paper() -> None:
    found = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, _ in library_files()
        for module, _ in imports(path)
        if module.split(".")[0] == "paper"
    ]
    assert found == []


def test_the_paper_imports_point_down_its_own_layers() -> None:
    upward = []
    for path in PAPER.rglob("*.py"):
        parts = path.relative_to(PAPER).with_suffix("").parts
        here = PAPER_LAYERS.get(parts[0], 0)
        for module, _ in imports(path):
            mine = module.split(".")
            if mine[0] == "paper" and len(mine) > 1 and PAPER_LAYERS[mine[1]] > here:
                upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert upward == []


def test_the_face_rule_fires_on_a_reach_past_a_face(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from leapfactual.pipeline.build import fit_vae\n"
        "from leapfactual.pipeline import build\n"
        "def f():\n    from leapfactual._plugins import load_plugins\n"
    )
    found = face_violations(bad, None, True)
    assert len(found) == 3 and "past the face" in found[0] and "not the face" in found[1]
    assert "private" in found[2]
    good = tmp_path / "good.py"
    good.write_text("from leapfactual.pipeline import fit_vae\nimport leapfactual as lf\n")
    assert face_violations(good, None, True) == []
    own = tmp_path / "own.py"  # inside its own package a module imports its siblings
    own.write_text("from leapfactual.pipeline.build import fit_vae\n")
    assert face_violations(own, "pipeline", False) == []
