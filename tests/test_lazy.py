"""Lazy package faces: names load on first use, light modules alone, the rest as a whole."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import types

import pytest

import leapfactual
from leapfactual._lazy import LazyFace

FACE = """
from typing import TYPE_CHECKING

from leapfactual._lazy import lazy_face

if TYPE_CHECKING:
    from {name}.heavy import Heavy, helper
    from {name}.light import Light

__all__ = {exported!r}

lazy_face(__name__, light=("light",))
"""


def make_package(tmp_path, monkeypatch, name: str, exported: list[str]) -> None:
    """A package ``name`` with a lazy face, a light module and a heavy one (the heavy one
    records its loading in ``sys.modules['NAME-loaded']``)."""
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text(FACE.format(name=name, exported=exported))
    (root / "light.py").write_text("class Light:\n    pass\n")
    (root / "heavy.py").write_text(
        textwrap.dedent(
            f"""
            import sys, types
            sys.modules["{name}-loaded"] = types.ModuleType("marker")
            class Heavy:
                pass
            def helper():
                return 1
            """
        )
    )
    (root / "other.py").write_text("VALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_light_name_loads_its_module_alone_and_a_heavy_one_the_whole_face(
    tmp_path, monkeypatch
) -> None:
    make_package(tmp_path, monkeypatch, "lazy_ok", ["Heavy", "Light", "helper"])
    import lazy_ok  # type: ignore[import-not-found]

    assert isinstance(lazy_ok, LazyFace)
    assert "lazy_ok.light" not in sys.modules and "lazy_ok.heavy" not in sys.modules
    assert lazy_ok.Light.__name__ == "Light"
    assert "lazy_ok.heavy" not in sys.modules
    assert lazy_ok.Heavy.__name__ == "Heavy"
    assert "lazy_ok-loaded" in sys.modules
    assert vars(lazy_ok)["helper"]() == 1  # the whole face was loaded with it
    assert lazy_ok.other.VALUE == 3  # a submodule not on the face loads as an attribute
    assert {"Heavy", "Light", "helper"} <= set(dir(lazy_ok))
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        _ = lazy_ok.missing


def test_a_face_whose_all_names_what_it_does_not_import_is_refused(tmp_path, monkeypatch) -> None:
    make_package(tmp_path, monkeypatch, "lazy_bad", ["Heavy", "Nowhere"])
    with pytest.raises(ImportError, match=r"__all__ names \['Nowhere'\]"):
        import lazy_bad  # type: ignore[import-not-found]  # noqa: F401


def test_a_face_name_wins_over_a_submodule_of_the_same_name() -> None:
    importlib.import_module("leapfactual.flow.leap")  # the submodule, loaded first
    from leapfactual.flow import leap  # its package keeps the function

    assert not isinstance(leap, types.ModuleType) and callable(leap)


def test_every_public_name_of_the_library_resolves() -> None:
    for name in leapfactual.__all__:
        assert getattr(leapfactual, name) is not None
    assert isinstance(leapfactual.explain, types.ModuleType)  # subpackages as attributes


def test_importing_the_library_and_its_settings_loads_no_torch() -> None:
    code = (
        "import sys, leapfactual as lf\n"
        "lf.FitSettings(); lf.ExplainSettings(); lf.Blend(); lf.Solver('midpoint', 4)\n"
        "print('torch' in sys.modules, end=' ')\n"
        "import leapfactual.flow.solvers\n"  # the broken case: the solvers need torch
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.split() == ["False", "True"]
