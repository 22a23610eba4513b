"""Open registries: methods and datasets added by a call or by an installed plugin package."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

import leapfactual as lf
from leapfactual import _plugins
from leapfactual.data import Dataset
from leapfactual.data import registry as data_registry
from leapfactual.explain import registry as method_registry

PLUGIN = """
import torch
import leapfactual as lf


def _blobs():
    images = torch.zeros(4, 1, 6, 6)
    images[2:, 0, 2:4, 2:4] = 1.0
    return lf.Dataset(images, torch.tensor([0, 0, 1, 1]), ["empty", "blob"], "blobs")


def _flipped(base, axis: int = 3):
    return lf.Dataset(base.images.flip(axis), base.labels, list(base.class_names), "flipped")


def register():
    lf.register_method(
        lf.MethodInfo(
            "identity_plugin", "Identity (plugin)", (), lambda m, o: None, "returns its input"
        )
    )
    lf.register_dataset("blobs", _blobs, summary="four 6x6 images (plugin)")
    lf.register_dataset("flipped", _flipped, path="base", summary="BASE mirrored (plugin)")
"""


@pytest.fixture
def fresh_registries(monkeypatch):
    """Registries and plugin state as they are now, restored after the test."""
    monkeypatch.setattr(method_registry, "_METHODS", dict(method_registry._METHODS))
    monkeypatch.setattr(data_registry, "_LOADERS", dict(data_registry._LOADERS))
    monkeypatch.setattr(data_registry, "_DERIVED", type(data_registry._DERIVED)())
    monkeypatch.setattr(_plugins, "_state", {"loaded": False})


def install_plugin(root: Path, monkeypatch, module: str, body: str, target: str) -> None:
    """An installed distribution on ``sys.path`` whose ``leapfactual.plugins`` entry point is
    ``module:target`` (a real ``.dist-info``, found by importlib.metadata)."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[leapfactual.plugins]\n{module} = {module}:{target}\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, module, raising=False)


def test_a_registered_method_is_built_by_name(fresh_registries) -> None:
    calls = []

    def make(models, options):
        calls.append(options)
        return lf.LatentAttack(models.classifier, models.codec, **options)

    info = lf.register_method(lf.MethodInfo("my_attack", "Mine", ("codec",), make, "mine"))
    assert lf.method_info("my_attack") is info and "my_attack" in lf.registered_methods()
    models = lf.Models(classifier=torch.nn.Linear(4, 2), codec=lf.IdentityCodec())
    explainer, output = lf.build_explainer("my_attack", models, max_steps=3)
    assert isinstance(explainer, lf.LatentAttack) and output == "cf"
    assert calls == [{"outputs": "logits", "max_steps": 3}]
    with pytest.raises(ValueError, match="already registered; pass replace=True"):
        lf.register_method(info)
    lf.register_method(info, replace=True)
    for bad in ("Has Space", "UPPER", ""):
        with pytest.raises(ValueError, match="lower-case letters"):
            lf.register_method(lf.MethodInfo(bad, "t", (), make, "s"))


def test_a_registered_dataset_and_a_derived_one(fresh_registries) -> None:
    four = Dataset(torch.rand(4, 1, 5, 5), torch.tensor([0, 1, 0, 1]), ["a", "b"], "four")
    lf.register_dataset("four", lambda: four, summary="four images")
    seen = []

    def halves(base: Dataset, keep: int = 2) -> Dataset:
        seen.append(base.name)
        return base.subset(torch.arange(keep))

    lf.register_dataset("halves", halves, path="base", summary="the first images of BASE")
    assert lf.load_dataset("four") is four
    part = lf.load_dataset("halves:four", keep=3)
    assert len(part) == 3 and seen == ["four"]
    assert lf.load_dataset("halves:four", keep=3) is part and seen == ["four"]  # built once
    assert len(lf.load_dataset("halves:digits")) == 2 and seen == ["four", "digits"]
    assert "halves[:BASE]" in lf.available_datasets()
    assert "options: keep" in lf.available_datasets()["halves[:BASE]"]
    with pytest.raises(ValueError, match="already registered"):
        lf.register_dataset("four", lambda: four)
    with pytest.raises(ValueError, match="path must be"):
        lf.register_dataset("five", lambda: four, path="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lower-case"):
        lf.register_dataset("Five", lambda: four)


def test_an_installed_plugin_is_read_on_the_first_lookup(
    fresh_registries, tmp_path, monkeypatch
) -> None:
    install_plugin(tmp_path, monkeypatch, "lf_demo_plugin", PLUGIN, "register")
    assert "lf_demo_plugin" not in sys.modules  # nothing imported before a lookup
    assert lf.method_info("identity_plugin").title == "Identity (plugin)"
    assert "lf_demo_plugin" in sys.modules
    blobs = lf.load_dataset("blobs")
    assert blobs.class_names == ["empty", "blob"] and len(blobs) == 4
    flipped = lf.load_dataset("flipped:blobs")
    assert torch.equal(flipped.images, blobs.images.flip(3))


def test_a_broken_plugin_is_named_with_the_fix(fresh_registries, tmp_path, monkeypatch) -> None:
    broken = "def register():\n    1 / 0\n"
    install_plugin(tmp_path, monkeypatch, "lf_broken_plugin", broken, "register")
    named = r"plugin 'lf_broken_plugin'.*ZeroDivisionError.*uninstall"
    with pytest.raises(ValueError, match=named):
        lf.load_dataset("mnist5k")
