"""Memory that runs out is named by its cause: the setting that sized the work."""

from __future__ import annotations

import pytest
import torch

from leapfactual._memory import OutOfMemory, Size, sized_by
from leapfactual.explain import LeapFactual
from leapfactual.pipeline import FitSettings, VAESettings
from leapfactual.pipeline.run import stage_sizes
from leapfactual.testing import images, stand_ins

ALLOCATOR = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 4000000000000 bytes."


def _fail(error: BaseException) -> None:
    raise error


def test_the_setting_furthest_above_its_default_is_named() -> None:
    wide = FitSettings(vae=VAESettings(width=10**9))
    sizes = stage_sizes(wide, "vae")
    assert sizes[0].name == "vae.batch_size"  # the batch first
    resnet = stage_sizes(FitSettings(vae=VAESettings(kind="resnet")), "vae")
    assert all(s.value == s.default for s in resnet)  # its width's default is the kind's
    with pytest.raises(OutOfMemory) as raised, sized_by("fitting the vae", sizes):
        _fail(RuntimeError(ALLOCATOR))
    assert str(raised.value).startswith(
        "out of memory while fitting the vae: vae.width = 1000000000 (default "
    )
    assert "lower it (--set vae.width=N) (tried to allocate 4000000000000 bytes)" in str(
        raised.value
    )
    plain = sized_by("fitting the vae", stage_sizes(FitSettings(), "vae"))
    with (
        pytest.raises(OutOfMemory, match=r"with no size above its default; lower vae\.batch_size "),
        plain,
    ):
        _fail(MemoryError())


def test_other_errors_pass_unchanged() -> None:
    bug = RuntimeError("a bug")
    with pytest.raises(RuntimeError) as raised, sized_by("x", [Size("batch", 2, 1, "--b")]):
        _fail(bug)
    assert raised.value is bug


def test_an_explainer_names_diverse_when_it_drove_the_size() -> None:
    models = stand_ins()

    def classifier(x: torch.Tensor) -> torch.Tensor:
        if len(x) > 4:  # the CEs of 2 inputs x 3: too many
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return models.classifier(x)

    explainer = LeapFactual(classifier, models.codec, models.field, inject=None)
    with pytest.raises(OutOfMemory, match=r"while explaining with leapfactual: diverse = 3 \("):
        explainer.explain(images(2), 1, diverse=3)
    assert len(explainer.explain(images(2), 1, diverse=2)) == 4
