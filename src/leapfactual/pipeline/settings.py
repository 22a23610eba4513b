"""Settings of every model and job, in one place: frozen dataclasses, TOML files, overrides.

Each model has its own settings object (:class:`VAESettings`, :class:`ClassifierSettings`,
:class:`FlowSettings`); :class:`FitSettings` gathers them for a run and :class:`ExplainSettings`
for an explain job. Defaults live only on these dataclasses (and on the explainers' own
:class:`~leapfactual.explain.Blend` / :class:`~leapfactual.explain.Inject` and the flow's
:class:`~leapfactual.flow.Solver`); the command line and the ``fit_*`` builders read them
from here. Fields are named as the constructor or trainer argument they feed (``batch_size``,
``flow.width`` / ``flow.depth``); an old name (:data:`RENAMED`) is still read. A settings
file is TOML with one table per nested object::

    data = "image-folder:photos"
    image_size = 64
    [vae]
    kind = "resnet"
    epochs = 40
    [flow]
    condition = "onehot"

:func:`from_dict` builds any settings class from such a mapping (unknown keys are refused with
the known ones listed); :func:`override` applies ``key.path=value`` strings on top (what
``--set`` does), converting each value to the field's type.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from leapfactual.explain import Blend, Diversity, Inject, check_nonfinite
from leapfactual.flow import KINDS, Solver
from leapfactual.models import MIN_SIDE, Preprocess
from leapfactual.training import check_patience

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

T = TypeVar("T")
log = logging.getLogger(__name__)

STAGE_NAMES = ("vae", "classifier", "flow", "oracle", "cvae")


def check_stages(stages: tuple[str, ...]) -> tuple[str, ...]:
    """``stages`` if each is one of :data:`STAGE_NAMES`, else a ``ValueError`` listing them."""
    unknown = [s for s in stages if s not in STAGE_NAMES]
    if unknown:
        raise ValueError(f"unknown stages {unknown}; choose from {list(STAGE_NAMES)}")
    return stages


CODECS = ("auto", "conv", "resnet")
"""VAE kinds; ``auto`` picks one from the images (:func:`codec_for`)."""


@dataclass(frozen=True)
class CodecDefaults:
    """What a VAE kind trains with where :class:`VAESettings` leaves a field at None."""

    width: int
    beta: float
    lr: float
    grad_clip: float
    """0: no clipping."""
    decay_at: tuple[float, ...]
    """Fractions of the epochs after which the learning rate is multiplied by 0.1."""
    max_work_size: int | None = None
    """Largest side the VAE works at (larger images are resampled to it); None: any."""


CODEC_DEFAULTS = {
    "conv": CodecDefaults(width=32, beta=0.00025, lr=2e-3, grad_clip=0.0, decay_at=()),
    "resnet": CodecDefaults(
        width=16, beta=1e-5, lr=1e-3, grad_clip=1.0, decay_at=(0.6, 0.85), max_work_size=64
    ),
}
"""Per kind. The residual VAE's: a small KL weight keeps what a classifier looks at
(``benchmarks/codec_agreement.py``); clipping, a smaller rate and two decays keep it from
diverging late in training at 64 px, where it did at lr 2e-3 with or without clipping. It works
at 64 px at most: at 128 px and the same number of steps, working at 128 px kept less of what
the own-model classifier reads than working at 64 px inside, at twice the training time
(``benchmarks/codec_agreement.py --size 128 --work-sizes 64 128``)."""


def codec_for(channels: int, size: int) -> str:
    """The VAE kind ``auto`` means for ``channels`` x ``size`` x ``size`` images: the residual
    VAE for colour or for images larger than 28 px (the conv VAE's reconstructions of 32 px
    RGB shapes collapsed to black), the conv VAE for small grey images such as MNIST."""
    if size >= MIN_SIDE and (channels == 3 or size > 28):
        return "resnet"
    return "conv"


def epochs_for(epochs: int, batch_size: int, min_steps: int, n: int) -> int:
    """``epochs``, raised so that training on ``n`` samples in minibatches of ``batch_size``
    takes at least ``min_steps`` optimiser steps."""
    per_epoch = max(1, math.ceil(n / batch_size))
    return max(epochs, math.ceil(min_steps / per_epoch))


FIELDS = ("mlp", "unet", "unet2d")
ACTIVATIONS = ("selu", "silu", "relu")
COUPLINGS = ("independent", "ot")
SOURCES = ("gaussian", "uniform")
CONDITION_ON = ("reconstruction", "input")
MODEL_KINDS = ("classifier", "regressor")
ASPECTS = ("pad", "crop", "stretch")


def _choice(name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(options)}")


def _steps(where: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}.min_steps must be a whole number >= 0, got {value!r}")


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{type(obj).__name__}.{name} must be positive, got {value!r}")


@dataclass(frozen=True)
class VAESettings:
    """The VAE whose latent space the flow models (also used for the CGM baseline's CVAE).

    ``kind``: ``conv`` (:class:`~leapfactual.models.ConvVAE`, for small grey images),
    ``resnet`` (:class:`~leapfactual.models.ResVAE`, residual blocks for 32-128 px), or
    ``auto`` (the default): chosen from the images by :func:`codec_for` when a run is fitted
    (:meth:`for_images`). Every field that is None takes the kind's own value
    (:data:`CODEC_DEFAULTS`):

    - ``width``: base channels (the residual VAE diverges at the conv VAE's width).
    - ``beta``: weight of the KL term (MSE averaged over pixels + beta * KL summed over latent
      dimensions). It trades what the codec keeps against a latent the flow can model:
      ``benchmarks/codec_agreement.py`` measures a user classifier's agreement on
      reconstructions per beta and training length. (The CGM baseline's conditional VAE
      keeps its own beta, 0.001.)
    - ``lr``, ``lr_milestones``: Adam's rate and the epochs after which it is multiplied by
      0.1 (the kind's default milestones are fractions of ``epochs``).
    - ``grad_clip``: the gradient's global norm is clipped to this before every step; 0 for
      none.
    - ``agreement``: weight of a term that asks the run's classifier to answer a
      reconstruction as it answers the image (``pipeline.build.agreement_term``); 0, the
      default, leaves it out. Use it when fit warns that the classifier disagrees on
      reconstructions (a classifier that reads fine detail, e.g. sharp corners at 128 px);
      the classifier must pass gradients (not ONNX).
    - ``work_size`` (``resnet`` only): the side the VAE's convolutions work at; larger images
      are averaged down to it going in and resampled up (bicubic) coming out. The default is
      the images' side up to 64: detail finer than 1/64 of the image is lost, and training
      costs what it costs at 64 px. Set it to the images' side to keep all of it (slower to
      train, and at 128 px blurrier in the same number of steps:
      ``benchmarks/codec_agreement.py``).
    - ``min_steps``: training takes at least this many optimiser steps: on small data
      ``epochs`` is raised to reach it (0: exactly ``epochs``).
    - ``probe``: stop training early, with the fix, when the reconstructions collapse (see
      :func:`leapfactual.pipeline.build.fit_vae`).
    - ``patience``, ``min_improvement``: early stopping (0: off, train exactly the epochs):
      a tenth of the training images is held out, and training stops once their loss has not
      fallen by more than ``min_improvement`` of its best for ``patience`` epochs, never
      before ``min_steps`` steps; ``epochs`` stays the maximum (see
      :func:`leapfactual.pipeline.build.fit_vae`).
    - ``channels_last``: train in the channels-last memory layout (the weights are put back in
      the usual layout after training); ``benchmarks/fit_speed.py`` measures it.
    """

    kind: str = "auto"
    latent_dim: int = 32
    width: int | None = None
    epochs: int = 20
    lr: float | None = None
    batch_size: int = 64
    beta: float | None = None
    grad_clip: float | None = None
    lr_milestones: tuple[int, ...] | None = None
    agreement: float = 0.0
    work_size: int | None = None
    min_steps: int = 1000
    probe: bool = True
    patience: int = 0
    min_improvement: float = 0.01
    channels_last: bool = False

    def __post_init__(self) -> None:
        _choice("vae.kind", self.kind, CODECS)
        _steps("vae", self.min_steps)
        check_patience("vae", self.patience, self.min_improvement)
        if not (math.isfinite(self.agreement) and self.agreement >= 0):
            raise ValueError(f"vae.agreement must be a finite number >= 0, got {self.agreement}")
        _positive(self, "latent_dim", "epochs", "batch_size")
        work = self.work_size
        whole = isinstance(work, int) and not isinstance(work, bool)
        if work is not None and not (whole and work >= MIN_SIDE):
            raise ValueError(
                f"vae.work_size must be a whole number of pixels >= {MIN_SIDE}, got {work!r}"
            )
        if work is not None and self.kind == "conv":
            raise ValueError(
                f"vae.work_size is an option of vae.kind = 'resnet', not {self.kind!r}; "
                "drop it or set vae.kind = 'resnet'"
            )
        for name in ("width", "lr"):
            if getattr(self, name) is not None:
                _positive(self, name)
        for name in ("beta", "grad_clip"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"vae.{name} must be a finite number >= 0, got {value}")

    def for_images(self, channels: int, size: int) -> VAESettings:
        """These settings with ``auto`` replaced by the kind :func:`codec_for` picks for
        ``channels`` x ``size`` x ``size`` images."""
        if self.kind != "auto":
            return self
        kind = codec_for(channels, size)
        if kind == "conv" and self.work_size is not None:
            raise ValueError(
                f"vae.work_size is an option of vae.kind = 'resnet', and vae.kind = 'auto' "
                f"picks 'conv' for {channels} x {size} x {size} images; set vae.kind = "
                "'resnet' or drop vae.work_size"
            )
        return dataclasses.replace(self, kind=kind)

    def epochs_for(self, n: int) -> int:
        """``epochs``, raised to reach ``min_steps`` on ``n`` images."""
        return epochs_for(self.epochs, self.batch_size, self.min_steps, n)

    @property
    def defaults(self) -> CodecDefaults:
        """The kind's own values of the fields left at None (``auto`` must be resolved by
        :meth:`for_images` first)."""
        if self.kind == "auto":
            raise ValueError(
                "vae.kind = 'auto' is chosen from the images; resolve it with "
                "VAESettings.for_images(channels, size) before building the VAE"
            )
        return CODEC_DEFAULTS[self.kind]

    @property
    def base_width(self) -> int:
        """``width``, or the kind's default width."""
        return self.width if self.width is not None else self.defaults.width

    @property
    def kl_weight(self) -> float:
        """``beta``, or the kind's default KL weight."""
        return self.beta if self.beta is not None else self.defaults.beta

    @property
    def learning_rate(self) -> float:
        """``lr``, or the kind's default learning rate."""
        return self.lr if self.lr is not None else self.defaults.lr

    @property
    def milestones(self) -> tuple[int, ...]:
        """``lr_milestones``, or the kind's default fractions of ``epochs``."""
        if self.lr_milestones is not None:
            return self.lr_milestones
        return tuple(round(f * self.epochs) for f in self.defaults.decay_at)

    def work_side(self, size: int) -> int:
        """The side the VAE works at for ``size``-pixel images: ``work_size``, or ``size`` up
        to the kind's largest."""
        if self.work_size is not None:
            return self.work_size
        cap = self.defaults.max_work_size
        return size if cap is None else min(size, cap)

    @property
    def max_grad_norm(self) -> float | None:
        """The gradient clip the trainer applies (None: none)."""
        clip = self.grad_clip if self.grad_clip is not None else self.defaults.grad_clip
        return clip or None


@dataclass(frozen=True)
class ClassifierSettings:
    """The classifier being explained (or the oracle): trained by ``fit``, or the user's own.

    ``spec``: the user's classifier (``package.module:attribute``, a ``.pt2`` export, a
    TorchScript file, an ``.onnx`` file, a Hugging Face model directory or
    ``timm:NAME:CHECKPOINT.safetensors``); when set, ``fit`` trains no classifier and the
    other fields but ``kind``, ``outputs`` (``logits`` or ``probs``: what it returns),
    ``output`` and ``preprocess`` are unused. ``output``: which of several outputs (a tuple,
    a dict, a multi-output ONNX graph) holds the class scores, an index or a name (empty: the
    only one). ``preprocess``: how the images in [0, 1] become what the model takes
    (:class:`~leapfactual.models.Preprocess`), laid over what a Hugging Face or timm model
    ships. ``kind = "regressor"``: the model returns one value per image (``[B]`` or
    ``[B, 1]``), trained with squared error on the data's scalar ``values``; its flow is
    conditioned on its standardised output and its CEs aim at target values.
    ``min_steps``: training takes at least this many optimiser steps (``epochs`` is raised on
    small data; 0: exactly ``epochs``). ``accept_chance``: ``fit`` stops when the classifier
    is no better than chance on the run's labelled held-out images (its CEs would explain
    noise); true explains it all the same (the run's verdict stays ``untrusted``).
    ``patience``, ``min_improvement``: early stopping on the held-out loss, as
    :class:`VAESettings` (0: off). ``channels_last``: as :class:`VAESettings`.
    """

    spec: str | None = None
    outputs: str = "logits"
    output: str = ""
    preprocess: Preprocess = Preprocess()
    width: int = 32
    epochs: int = 8
    lr: float = 2e-3
    batch_size: int = 64
    augment: int = 2
    kind: str = "classifier"
    min_steps: int = 500
    accept_chance: bool = False
    patience: int = 0
    min_improvement: float = 0.01
    channels_last: bool = False

    def __post_init__(self) -> None:
        _choice("classifier.kind", self.kind, MODEL_KINDS)
        _steps("classifier", self.min_steps)
        check_patience("classifier", self.patience, self.min_improvement)
        _choice("classifier.outputs", self.outputs, ("logits", "probs"))
        _positive(self, "width", "epochs", "lr", "batch_size")
        if self.augment < 0:
            raise ValueError(f"classifier.augment must be >= 0 pixels, got {self.augment}")

    def epochs_for(self, n: int) -> int:
        """``epochs``, raised to reach ``min_steps`` on ``n`` images."""
        return epochs_for(self.epochs, self.batch_size, self.min_steps, n)


@dataclass(frozen=True)
class FlowSettings:
    """The CE-CFM vector field: ``mlp`` (:class:`~leapfactual.flow.MLPField`), ``unet``
    (:class:`~leapfactual.flow.UNet1DField`: width = base channels, depth = halvings) or
    ``unet2d`` (:class:`~leapfactual.flow.UNet2DField`, the same over the latent grid of a
    codec of your own with spatial latents ``[C, h, w]``).

    ``source``: where paths start (t = 0): ``gaussian`` N(0, I), or ``uniform`` on the box
    ``source_bounds`` (the 2-D toy's data square). ``condition``: how a classifier's outputs
    become the condition; a regressor's flow is always conditioned on its standardised
    value (``value``).

    ``condition_on``: the images whose model outputs condition the flow in training:
    ``reconstruction`` (the VAE's decodings of the training latents, what the explanation loop
    classifies) or ``input`` (the training images themselves, as the paper's reference code).
    ``min_steps``: training takes at least this many optimiser steps (``epochs`` is raised on
    small data; 0: exactly ``epochs``; the flow is cheap to train, and on the demo's 4,000
    digits 30 epochs are 480 steps, a flow whose samples missed their class too often:
    docs/design-notes.md). ``patience``, ``min_improvement``: early stopping on
    the held-out CFM loss (a fixed noise draw), as :class:`VAESettings` (0: off)."""

    field: str = "mlp"
    width: int = 64
    depth: int = 3
    activation: str = "selu"
    epochs: int = 30
    lr: float = 5e-3
    batch_size: int = 256
    condition: str = "softmax"
    lr_milestones: tuple[int, ...] = ()
    sigma: float = 0.0
    coupling: str = "independent"
    source: str = "gaussian"
    source_bounds: tuple[float, float] = (-0.5, 0.5)
    condition_on: str = "reconstruction"
    min_steps: int = 3000
    patience: int = 0
    min_improvement: float = 0.01

    def __post_init__(self) -> None:
        _steps("flow", self.min_steps)
        check_patience("flow", self.patience, self.min_improvement)
        _choice("flow.field", self.field, FIELDS)
        _choice("flow.condition_on", self.condition_on, CONDITION_ON)
        _choice("flow.activation", self.activation, ACTIVATIONS)
        _choice("flow.condition", self.condition, tuple(KINDS))
        _choice("flow.coupling", self.coupling, COUPLINGS)
        _choice("flow.source", self.source, SOURCES)
        low, high = self.source_bounds
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"flow.source_bounds must be finite with low < high, got {low, high}")
        if not (self.sigma >= 0 and math.isfinite(self.sigma)):
            raise ValueError(f"flow.sigma must be a finite number >= 0, got {self.sigma!r}")
        _positive(self, "width", "depth", "epochs", "lr", "batch_size")

    def epochs_for(self, n: int) -> int:
        """``epochs``, raised to reach ``min_steps`` on ``n`` latents."""
        return epochs_for(self.epochs, self.batch_size, self.min_steps, n)


@dataclass(frozen=True)
class CodecSettings:
    """The user's own codec instead of training a VAE (``fit --codec SPEC``).

    ``spec``: ``package.module:attribute`` (an object with ``encode`` / ``decode``) or a
    diffusers autoencoder directory; then ``fit`` trains only the flow (the ``vae`` settings
    are unused), on latents standardised by a scale measured on the data.
    ``value_range``: the images it takes (None: [0, 1] for an entry point; a diffusers
    autoencoder takes [-1, 1] by itself).
    """

    spec: str | None = None
    value_range: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        bounds = self.value_range
        if bounds is not None and not (
            len(bounds) == 2 and all(math.isfinite(v) for v in bounds) and bounds[0] < bounds[1]
        ):
            raise ValueError(
                f"codec.value_range must be [low, high] with low < high, got {list(bounds)}"
            )


@dataclass(frozen=True)
class FitSettings:
    """Every setting of a run; defaults are sized for 4,000 MNIST digits on a 2-core CPU.

    ``image_size`` / ``channels``: what images become when read from files (None: taken from
    the data): a side, or ``[height, width]`` (non-square: a codec of your own must take it);
    ``aspect``: how an image of another aspect ratio is fitted to that size (``pad``,
    ``crop`` or ``stretch``; ``fit`` notes what it did). ``codec``: your own codec instead
    of the VAE. ``oracle``: an independent classifier for oracle validity; ``cvae``: the CGM
    baseline's conditional VAE.
    """

    data: str = "mnist5k"
    test_fraction: float = 0.2
    seed: int = 0
    image_size: int | tuple[int, ...] | None = None
    channels: int | None = None
    aspect: str = "pad"
    codec: CodecSettings = CodecSettings()
    vae: VAESettings = VAESettings()
    classifier: ClassifierSettings = ClassifierSettings()
    flow: FlowSettings = FlowSettings()
    oracle: ClassifierSettings = ClassifierSettings(width=48)
    cvae: VAESettings = VAESettings(kind="conv")

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must lie in (0, 1), got {self.test_fraction}")
        if self.channels not in (None, 1, 3):
            raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {self.channels}")
        sides = self.image_size if isinstance(self.image_size, tuple) else (self.image_size,)
        if self.image_size is not None and not (
            len(sides) in (1, 2) and all(isinstance(v, int) and v >= 1 for v in sides)
        ):
            raise ValueError(
                f"image_size must be a positive integer or [height, width], got {self.image_size!r}"
            )
        if isinstance(self.image_size, tuple) and len(sides) == 1:
            object.__setattr__(self, "image_size", sides[0])
        _choice("aspect", self.aspect, ASPECTS)
        if self.flow.field == "unet2d" and self.codec.spec is None:
            raise ValueError(
                "flow.field = 'unet2d' works on spatial latents [C, h, w], which only a codec "
                "of your own has (--codec); the VAE's latents are flat: use flow.field = "
                "'mlp' or 'unet'"
            )

    @property
    def image_hw(self) -> tuple[int, int] | None:
        """``image_size`` as ``(height, width)`` (None: taken from the data)."""
        size = self.image_size
        if size is None:
            return None
        return (size, size) if isinstance(size, int) else (size[0], size[-1])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitSettings:
        return from_dict(cls, data)


FitConfig = FitSettings
"""The old name of :class:`FitSettings`, kept so that code written for it still runs."""


@dataclass(frozen=True)
class ExplainSettings:
    """An explain job: which method, its LeapFactual schedule, targets and batching.

    ``inject=None`` makes no reliable CE. ``target``: a class index, ``next``, ``random`` or
    ``all-others``; ``limit``: explain at most this many inputs (0: all); ``seed``: for
    ``random`` targets and stochastic methods; ``options``: further constructor keywords
    of the method (e.g. ``tau`` of an attack). A regressor's run takes ``target_value`` (one
    wanted value for every input) or ``target_shift`` (each input's prediction plus this)
    and a ``tolerance`` (valid: ``|f(x') - target| <= tolerance``) instead of ``target``.
    ``diverse``: CEs per input (LeapFactual, made as ``diversity`` says). ``nonfinite``: what a
    NaN or infinite model output does, ``error`` (stop, naming the model and the step) or
    ``invalid`` (mark the sample invalid and count it; see ``Explainer.set_nonfinite``).
    """

    method: str = "leapfactual"
    blend: Blend = Blend()
    inject: Inject | None = Inject()
    solver: Solver = Solver()
    target: str = "random"
    limit: int = 64
    batch_size: int = 256
    seed: int = 0
    target_value: float | None = None
    target_shift: float | None = None
    tolerance: float | None = None
    diverse: int = 1
    diversity: Diversity = Diversity()
    nonfinite: str = "error"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_nonfinite(self.nonfinite)
        if self.target_value is not None and self.target_shift is not None:
            raise ValueError("give target_value or target_shift, not both")
        if self.diverse < 1:
            raise ValueError(f"diverse must be >= 1 CEs per input, got {self.diverse}")
        if self.limit < 0:
            raise ValueError(f"limit must be >= 0 (0: all inputs), got {self.limit}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")


# -- dictionaries, files and overrides -------------------------------------------------------
def to_dict(settings: Any) -> dict[str, Any]:
    """A settings object as plain JSON-ready data (tuples become lists)."""
    return typing.cast(dict[str, Any], _plain(dataclasses.asdict(settings)))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


RENAMED: dict[str, str] = {"batch": "batch_size"}
"""Old names of settings fields and their names now. Run files, settings files and ``--set``
written with an old name are still read (with a logged note); giving both names is refused."""


def renamed(key: str, known: set[str] | dict[str, Any], where: str = "") -> str:
    """``key``, or the name it now has when it is an old name (:data:`RENAMED`) that ``known``
    holds under its new name; logs a note when it maps one."""
    new = RENAMED.get(key)
    if key in known or new is None or new not in known:
        return key
    log.info("note: setting %s%s is now called %s%s; read as that", where, key, where, new)
    return new


def _new_names(data: Mapping[str, Any], known: set[str], where: str) -> dict[str, Any]:
    """``data`` with old names of fields (:data:`RENAMED`) put under their new names."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = renamed(key, known, where)
        if name != key and name in data:
            raise ValueError(
                f"settings {where}{key} and {where}{name} are one setting ({key} is its old "
                f"name); give {where}{name} only"
            )
        out[name] = value
    return out


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build settings class ``cls`` from a (nested) mapping; missing keys keep the defaults.
    Old names of fields (:data:`RENAMED`) are read as their new names."""
    if not isinstance(data, Mapping):
        raise ValueError(f"settings {where or cls.__name__} must be a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    data = _new_names(data, known, where)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(
            f"unknown settings {[where + k for k in unknown]}; known in "
            f"{where.rstrip('.') or cls.__name__}: {sorted(known)}"
        )
    values = {k: _convert(hints[k], v, where + k) for k, v in data.items()}
    return cls(**values)


def load_toml(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML settings file (a clear error for a missing or malformed file)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"settings file {file} does not exist")
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{file} is not valid TOML ({err}); fix the file") from err


def override(settings: T, assignments: Mapping[str, Any], parse: bool = True) -> T:
    """``settings`` with ``{"vae.epochs": "5", ...}`` applied (strings parsed as TOML values,
    e.g. ``5``, ``0.1``, ``"name"``, ``[3, 4]``; bare words are strings). ``parse=False``:
    the values are typed already (command-line flags) and strings stay strings."""
    data = to_dict(settings)
    for key, raw in assignments.items():
        node, cls = data, type(settings)
        *parents, leaf = key.split(".")
        for part in parents:
            table = _table_type(cls, part)
            child = node.get(part)
            if child is None and table is not None and part in node:  # an optional table
                child = node[part] = to_dict(table())  # that was off (inject): its defaults
            if not isinstance(child, dict) or table is None:
                raise ValueError(f"unknown setting {key!r}: {part!r} is not a table of settings")
            node, cls = child, table
        where = key[: len(key) - len(leaf)]
        name = renamed(leaf, node, where)
        if name != leaf and where + name in assignments:
            raise ValueError(
                f"settings {key} and {where}{name} are one setting ({leaf} is its old name); "
                f"give {where}{name} only"
            )
        leaf = name
        if leaf not in node:
            raise ValueError(f"unknown setting {key!r}; known here: {sorted(node)}")
        node[leaf] = parse_value(raw) if parse and isinstance(raw, str) else raw
    return from_dict(type(settings), data)


def _table_type(cls: type, name: str) -> type | None:
    """The settings class of field ``name`` of ``cls`` (None when it is not a table)."""
    if not is_dataclass(cls) or name not in {f.name for f in fields(cls)}:
        return None
    hint = typing.get_type_hints(cls)[name]
    options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return options[0] if isinstance(options[0], type) and is_dataclass(options[0]) else None


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``["vae.epochs=5", ...]`` -> ``{"vae.epochs": "5", ...}`` (the ``--set`` option)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set needs KEY=VALUE (e.g. vae.epochs=40), got {item!r}")
        out[key.strip()] = value.strip()
    return out


def parse_value(text: str) -> Any:
    """A TOML value (``5``, ``0.1``, ``true``, ``[1, 2]``, ``"x"``); anything else: the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        off = value is None or (isinstance(value, str) and value.lower() == "none")
        off = off or (value is False and is_dataclass(options[0]))
        if off and type(None) in args:
            return None
        for option in options[:-1]:  # several types (int or a list of ints): the first that fits
            try:
                return _convert(option, value, where)
            except ValueError:
                continue
        return _convert(options[-1], value, where)
    if is_dataclass(hint):
        if isinstance(hint, type) and isinstance(value, hint):
            return value
        return from_dict(typing.cast(type, hint), value, where + ".")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"setting {where} must be a list, got {value!r}")
        return tuple(_convert(args[0], v, where) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"setting {where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"setting {where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"setting {where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"setting {where} must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # an index given as a number (classifier.output=1)
        if not isinstance(value, str):
            raise ValueError(f"setting {where} must be text, got {value!r}")
        return value
    return value


__all__ = [
    "ASPECTS",
    "ClassifierSettings",
    "CodecSettings",
    "ExplainSettings",
    "FitConfig",
    "FitSettings",
    "FlowSettings",
    "VAESettings",
    "codec_for",
    "epochs_for",
    "from_dict",
    "load_toml",
    "override",
    "parse_assignments",
    "parse_value",
    "to_dict",
]
