"""One registry of explainers: a name per method, how to build it, and its reliable variant.

The benchmark, the reliability experiments, the speed benchmark and the command line all
build explainers here, so a method has one name (``Explainer.name``) and one title
everywhere. A method is built from :class:`Models` (whatever a run or an experiment has
fitted) and keyword options for its constructor. Its *reliable* variant is the CE that should
hold beyond the model's own boundary: LeapFactual's injected CE (the same explainer, its
``reliable`` output), or the method run with stricter options (an attack that stops at a
higher probability, a reflection that goes twice as far). Methods without one refuse it.

The registry is open: :func:`register_method` adds a method (a plugin package does it from
its ``leapfactual.plugins`` entry point, read on the first lookup).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor

from leapfactual._plugins import load_plugins
from leapfactual.explain.attack import LatentAttack
from leapfactual.explain.base import Explainer, Outputs
from leapfactual.explain.cgm import CGMBased
from leapfactual.explain.leapfactual import LeapFactual
from leapfactual.explain.opt import OptBased
from leapfactual.explain.pixel import PixelAttack
from leapfactual.explain.reflection import LatentReflection

Output = Literal["cf", "reliable"]


@dataclass
class Models:
    """What explainers are built from. ``probe_images`` (and optionally ``probe_labels``):
    the images whose latents fit the linear reflection's probe, or a function that returns
    them (so that they are loaded only when the reflection is built)."""

    classifier: Callable[[Tensor], Any]
    codec: Any = None
    flow: Any = None
    cvae: Any = None
    probe_images: Tensor | Callable[[], Tensor] | None = None
    probe_labels: Tensor | None = None
    outputs: Outputs = "logits"


@dataclass(frozen=True)
class MethodInfo:
    """A registered method.

    Attributes:
        name: the one name (CLI choice, ``Explainer.name``, table keys).
        title: its column title; ``reliable_title(options)`` titles the reliable variant.
        needs: the :class:`Models` fields it cannot do without.
        make: ``(models, options) -> Explainer``.
        reliable: options of the reliable variant, or ``"output"`` (the same explainer's
            reliable CE), or None (no such variant).
        summary: one line for help texts.
        regression: whether it explains regressors (``Models.outputs == "value"``), as its
            class's ``regression`` says.
    """

    name: str
    title: str
    needs: tuple[str, ...]
    make: Callable[[Models, dict[str, Any]], Explainer]
    summary: str
    reliable: Literal["output"] | Mapping[str, Any] | None = None
    reliable_label: Callable[[Mapping[str, Any]], str] = field(default=lambda _: "reliable")
    regression: bool = False

    def reliable_title(self, options: Mapping[str, Any] | None = None) -> str:
        merged = {**self.reliable_options(), **(options or {})}
        return f"{self.title} {self.reliable_label(merged)}"

    def reliable_options(self) -> dict[str, Any]:
        return dict(self.reliable) if isinstance(self.reliable, Mapping) else {}


def _reflection(models: Models, options: dict[str, Any]) -> Explainer:
    if models.probe_images is None:
        raise ValueError(
            "the reflection baseline fits a linear probe on latents: give probe_images "
            "(e.g. the run's training images)"
        )
    images = models.probe_images
    method = LatentReflection(models.classifier, models.codec, **options)
    return method.fit(images() if callable(images) else images, models.probe_labels)


_METHODS: dict[str, MethodInfo] = {}


def register_method(info: MethodInfo, *, replace: bool = False) -> MethodInfo:
    """Add ``info`` to the registry under ``info.name`` (what the CLI's ``--method``, the
    run jobs and :func:`build_explainer` accept); a name already taken is refused unless
    ``replace``. Returns ``info``, so it can be used as a one-line registration."""
    if not isinstance(info, MethodInfo):
        raise ValueError(f"register_method takes a MethodInfo, got {type(info).__name__}")
    if not info.name or not info.name.replace("_", "").isalnum() or info.name != info.name.lower():
        raise ValueError(
            f"method name {info.name!r} must be lower-case letters, digits and underscores"
        )
    if info.name in _METHODS and not replace:
        raise ValueError(
            f"method {info.name!r} is already registered; pass replace=True to override it"
        )
    _METHODS[info.name] = info
    return info


for _info in (
    MethodInfo(
        "leapfactual",
        "LeapFactual",
        ("codec", "flow"),
        lambda m, o: LeapFactual(m.classifier, m.codec, m.flow, **o),
        "leaps of the CE-CFM flow (outputs only, no gradients)",
        reliable="output",
        regression=True,
    ),
    MethodInfo(
        "opt",
        "Opt-based",
        ("codec",),
        lambda m, o: OptBased(m.classifier, m.codec, **o),
        "AdamW on the latent: target loss + L1 to the input (needs gradients)",
        regression=True,
    ),
    MethodInfo(
        "cgm",
        "CGM-based",
        ("cvae",),
        lambda m, o: CGMBased(m.classifier, m.cvae, **o),
        "conditional VAE, condition swapped to the target (one pass)",
    ),
    MethodInfo(
        "latent_attack",
        "Latent attack",
        ("codec",),
        lambda m, o: LatentAttack(m.classifier, m.codec, **o),
        "Adam on the latent until p(target) > tau (needs gradients)",
        reliable={"tau": 0.99},
        reliable_label=lambda o: f"τ={o['tau']}",
        regression=True,
    ),
    MethodInfo(
        "pixel_attack",
        "Pixel attack",
        (),
        lambda m, o: PixelAttack(m.classifier, **o),
        "gradient steps on the pixels (a negative control: adversarial noise)",
        reliable={"tau": 0.99},
        reliable_label=lambda o: f"τ={o['tau']}",
    ),
    MethodInfo(
        "reflection",
        "Latent reflection",
        ("codec", "probe_images"),
        _reflection,
        "mirror the latent across a linear probe (no gradients)",
        reliable={"scale": 4.0},
        reliable_label=lambda o: f"×{o['scale'] / 2:g}",
    ),
):
    register_method(_info)
del _info


def registered_methods() -> dict[str, MethodInfo]:
    """Every registered method by name: the built-in ones, then those of plugins (the
    ``leapfactual.plugins`` entry points, read on the first lookup)."""
    load_plugins()
    return dict(_METHODS)


def method_info(name: str) -> MethodInfo:
    """The registered method ``name`` (a clear error listing the names otherwise)."""
    methods = registered_methods()
    try:
        return methods[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {list(methods)}") from None


def build_explainer(
    name: str, models: Models, *, reliable: bool = False, **options: Any
) -> tuple[Explainer, Output]:
    """Build method ``name`` on ``models`` with constructor ``options``.

    Returns the explainer and which of its outputs to read: ``"reliable"`` for LeapFactual's
    reliable variant, else ``"cf"``. ``reliable=True`` for a method without a reliable
    variant raises a ``ValueError``.
    """
    info = method_info(name)
    if models.outputs == "value" and not info.regression:
        takes = [m.name for m in registered_methods().values() if m.regression]
        raise ValueError(
            f"method {name!r} explains classifiers only; for a regressor use one of {takes}"
        )
    missing = [need for need in info.needs if getattr(models, need) is None]
    if missing:
        raise ValueError(f"method {name!r} needs {', '.join(missing)}, which were not given")
    if reliable and info.reliable is None:
        raise ValueError(f"method {name!r} has no reliable variant")
    if reliable and info.reliable != "output":
        options = {**info.reliable_options(), **options}
    explainer = info.make(models, {"outputs": models.outputs, **options})
    return explainer, "reliable" if reliable and info.reliable == "output" else "cf"


__all__ = [
    "MethodInfo",
    "Models",
    "Output",
    "build_explainer",
    "method_info",
    "register_method",
    "registered_methods",
]
