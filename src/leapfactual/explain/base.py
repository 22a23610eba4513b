"""The explainer interface every method shares, and the plumbing they all need.

``Explainer.explain(x, target)`` validates the inputs, splits them into batches of
``batch_size`` so memory stays bounded, runs the method's ``explain_batch`` under a cost
counter, and assembles one :class:`Explanation` on the input's device.

A *regressor* (``outputs="value"``: a callable returning ``[B]`` or ``[B, 1]`` values) is
explained by the methods with ``regression = True``: targets are then wanted values, and a CE
is valid when its value lies within the explainer's ``tolerance`` of the target.
``explain(x, target, diverse=K)`` asks a method with a diversity mechanism
(``explain_copies``) for K different CEs per input.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import torch
from torch import Tensor, nn

from leapfactual._memory import Size, out_of_memory, sized_by
from leapfactual._progress import tqdm
from leapfactual.explain.config import parameter_names, settings_of
from leapfactual.explain.explanation import Cost, Explanation, Timer, reaches
from leapfactual.explain.options import NonFinite, check_nonfinite
from leapfactual.models import Classifier, Codec, as_tensor_outputs
from leapfactual.training import Callback, ExplainBatch, active_callbacks

Outputs = Literal["logits", "probs", "value"]
OUTPUT_KINDS = ("logits", "probs", "value")


def as_probs(outputs: Tensor, kind: Outputs) -> Tensor:
    """Classifier outputs as probabilities: softmax of logits, or probabilities as given; a
    regressor's values (``kind="value"``, ``[B]`` or ``[B, 1]``) as ``[B, 1]``."""
    if kind == "value":
        if outputs.dim() > 2 or (outputs.dim() == 2 and outputs.shape[1] != 1):
            raise ValueError(
                f"a regressor must return [B] or [B, 1] values, got shape {tuple(outputs.shape)}"
            )
        return outputs.float().reshape(-1, 1)
    if outputs.dim() != 2:
        raise ValueError(
            f"the classifier must return [B, K] outputs, got shape {tuple(outputs.shape)}"
        )
    if kind == "logits":
        return outputs.float().softmax(dim=1)
    if kind == "probs":
        return check_probabilities(outputs.float())
    raise ValueError(
        f"unknown classifier output kind {kind!r}; choose 'logits', 'probs' or 'value' (a "
        "regressor)"
    )


PROBS_SLACK = 1e-3
"""Probabilities (``outputs="probs"``) may leave [0, 1], and their rows' sums 1, by this much."""


def check_probabilities(probs: Tensor) -> Tensor:
    """``probs`` ``[B, K]`` when every finite row lies in [0, 1] and sums to 1 (within
    :data:`PROBS_SLACK`); otherwise a ``ValueError``: a model declared ``outputs="probs"``
    that returns logits (non-finite rows are left to the finite check)."""
    values = probs.detach()
    finite = torch.isfinite(values).all(dim=1)
    sums = values.sum(dim=1)
    bad = finite & (
        ((sums - 1).abs() > PROBS_SLACK)
        | (values.amin(dim=1) < -PROBS_SLACK)
        | (values.amax(dim=1) > 1 + PROBS_SLACK)
    )
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"the classifier is declared to return probabilities (outputs='probs'), but its "
            f"output for {int(bad.sum())} of {len(values)} samples is not: row {i} sums to "
            f"{float(sums[i]):.4g} with values in [{float(values[i].min()):.4g}, "
            f"{float(values[i].max()):.4g}]. If it returns logits, declare outputs='logits' "
            "(--set classifier.outputs=logits)"
        )
    return probs


def check_rows(out: Tensor, rows: int, role: str, model: object) -> Tensor:
    """``out`` when it has one row per input (``rows``); otherwise a ``ValueError`` naming
    the model (a classifier returning ``[1, K]`` for a batch, or a flattened batch)."""
    if out.dim() == 0 or out.shape[0] != rows:
        raise ValueError(
            f"the {role} ({type(model).__name__}) returned shape {tuple(out.shape)} for a batch "
            f"of {rows} inputs; it must return one row per input ([{rows}, ...]). Check that it "
            "keeps the batch dimension"
        )
    return out


def log_probs(outputs: Tensor, kind: Outputs) -> Tensor:
    """Classifier outputs as log-probabilities: ``log_softmax`` of logits (stable where a
    probability underflows), or the log of probabilities floored at the smallest normal float."""
    probs = as_probs(outputs, kind)
    if kind == "logits":
        return outputs.float().log_softmax(dim=1)
    return probs.clamp_min(torch.finfo(probs.dtype).tiny).log()


@contextmanager
def model_errors(role: str, inputs: Tensor) -> Iterator[None]:
    """Re-raise a model's ``RuntimeError`` (wrong shape, dtype or device) as a ``ValueError``
    that names the model and the batch it was given. Out-of-memory errors pass unchanged."""
    try:
        yield
    except RuntimeError as err:
        if out_of_memory(err):
            raise
        raise ValueError(
            f"the {role} failed on a batch of shape {tuple(inputs.shape)}, dtype {inputs.dtype} "
            f"on {inputs.device}: {err}. Check that the inputs have the shape, dtype and "
            "device the models expect."
        ) from err


def check_finite(out: Tensor, role: str, model: object, step: str) -> Tensor:
    """``out`` when every value is finite; otherwise a ``ValueError`` naming the model, its
    ``role`` and the ``step`` it was called for, and how many samples are affected."""
    if out.is_floating_point() and out.dim() and out.shape[0]:
        finite = torch.isfinite(out.detach()).reshape(out.shape[0], -1).all(dim=1)
        if not bool(finite.all()):
            raise nonfinite_error(role, model, step, ~finite)
    return out


def nonfinite_error(role: str, model: object, step: str, bad: Tensor) -> ValueError:
    """The error of :func:`check_finite` for the samples marked in ``bad`` ``[B]``."""
    rows = bad.nonzero().flatten().tolist()
    return ValueError(
        f"the {role} ({type(model).__name__}) returned NaN or infinite values for "
        f"{len(rows)} of {bad.shape[0]} samples (batch indices {rows[:5]}"
        f"{' ...' if len(rows) > 5 else ''}) while {step}; its weights may be damaged "
        "(NaN) or it overflows on these inputs. Check the model on them; no "
        "counterfactual was made from non-finite outputs."
    )


def mark_nonfinite(
    x: Tensor, out: dict[str, Tensor], probs: Tensor
) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """Which samples of a batch met a non-finite model output (one of their tensors, or
    their inputs' ``probs``, holds NaN or infinity), and the batch made finite: those
    samples' CEs (``x_cf``, ``x_reliable``) are their input ``x``, and every non-finite value
    left (probabilities, latents, trajectories) is 0. Returns ``(out, probs, marked)``."""
    marked = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for value in (*out.values(), probs):
        if value.is_floating_point() and value.dim():
            marked |= ~torch.isfinite(value).reshape(len(value), -1).all(dim=1)
    if not bool(marked.any()):
        return out, probs, marked
    fixed = {}
    for key, value in out.items():
        if key in ("x_cf", "x_reliable"):
            value = torch.where(marked.reshape(-1, *[1] * (value.dim() - 1)), x, value)
        fixed[key] = _zero_nonfinite(value)
    return fixed, _zero_nonfinite(probs), marked


def _zero_nonfinite(value: Tensor) -> Tensor:
    if not value.is_floating_point():
        return value
    return torch.where(torch.isfinite(value), value, torch.zeros((), dtype=value.dtype))


@contextmanager
def seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Run a block with the random generators of the CPU and ``device`` seeded with ``seed``,
    then restore their states, so the caller's random stream is left untouched. ``None``:
    no seeding, the block draws from the caller's stream."""
    if seed is None:
        yield
        return
    devices = [] if device.type == "cpu" else [device]
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        elif device.type != "cpu":
            torch.manual_seed(seed)
        yield


INT64 = torch.iinfo(torch.int64)


def as_target(target: float | Tensor, batch: int) -> Tensor:
    """A target given as one class or one per sample, as a long tensor ``[batch]`` on CPU."""
    if isinstance(target, int):
        if not INT64.min <= target <= INT64.max:
            raise ValueError(
                f"target {target} is no class index (over 64 bits); give a class index "
                "between 0 and the number of classes - 1"
            )
        return torch.full((batch,), target, dtype=torch.long)
    if not isinstance(target, Tensor) or target.is_floating_point() or target.dim() > 1:
        raise ValueError(
            "target must be an int or a 1-D integer tensor of class indices, got "
            f"{type(target).__name__}"
            + (
                f" of shape {tuple(target.shape)}, dtype {target.dtype}"
                if isinstance(target, Tensor)
                else ""
            )
        )
    target = target.reshape(-1).long().cpu()
    if target.numel() == 1:
        return target.expand(batch).clone()
    if target.numel() != batch:
        raise ValueError(f"got {target.numel()} targets for {batch} inputs; give one or one each")
    return target


def as_value_target(target: float | Tensor, batch: int) -> Tensor:
    """A regression target given as one value or one per sample, as float64 ``[batch]`` on
    CPU (finite)."""
    if isinstance(target, bool) or not isinstance(target, int | float | Tensor):
        raise ValueError(
            "a regressor's target is a number or a 1-D tensor of values, got "
            f"{type(target).__name__}"
        )
    try:
        number = float(target) if isinstance(target, int) else target  # an int over 64 bits
        values = torch.as_tensor(number).detach().double().reshape(-1).cpu()
    except OverflowError:
        values = torch.tensor([math.inf], dtype=torch.float64)
    if not torch.isfinite(values).all():
        raise ValueError("regression targets must be finite numbers (got NaN or Inf)")
    if values.numel() == 1:
        return values.expand(batch).clone()
    if values.numel() != batch:
        raise ValueError(f"got {values.numel()} targets for {batch} inputs; give one or one each")
    return values


def check_inputs(x: Tensor) -> None:
    """Raise a specific ``ValueError`` for inputs no explainer can work on."""
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.layout != torch.strided or x.is_meta:
        kind = "a meta tensor (shapes only, no values)" if x.is_meta else f"layout {x.layout}"
        raise ValueError(
            f"x must be a dense tensor of values (strided, on cpu or a GPU), got {kind}; "
            "convert it with x.to_dense(), or make it on a real device"
        )
    if x.is_complex():
        raise ValueError(
            f"x must be a real float tensor (images in [0, 1]), got dtype {x.dtype}; give "
            "x.real or x.abs() if that is the image"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"x must be a float tensor (images in [0, 1]), got dtype {x.dtype}; "
            "convert with x.float() / 255"
        )
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(
            "x must be a non-empty batch [B, ...] (images [B, C, H, W]), got shape "
            f"{tuple(x.shape)}"
        )
    finite = torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)
    if not finite.all():
        bad = (~finite).nonzero().flatten().tolist()
        raise ValueError(
            f"x contains NaN or Inf values in {len(bad)} of {x.shape[0]} samples (indices "
            f"{bad[:5]}{' ...' if len(bad) > 5 else ''}); clean or drop those samples first"
        )


DEFAULT_BATCH = 256
"""Inputs per internal batch unless an explainer is told otherwise."""
RANGE_SLACK = 1e-4
"""Inputs may overshoot a model's declared ``input_range`` by this much (rounding)."""


def check_range(x: Tensor, models: dict[str, object]) -> None:
    """Raise a specific ``ValueError`` if ``x`` leaves the ``input_range`` a model declares.

    A model opts in with an ``input_range = (low, high)`` attribute (the reference VAEs and
    classifier declare ``(0, 1)``); models without one are not checked.
    """
    for role, model in models.items():
        bounds = getattr(model, "input_range", None)
        if bounds is None:
            continue
        low, high = bounds
        x_min, x_max = float(x.min()), float(x.max())
        if x_min < low - RANGE_SLACK or x_max > high + RANGE_SLACK:
            raise ValueError(
                f"x has values in [{x_min:.4g}, {x_max:.4g}], but the {role} "
                f"({type(model).__name__}) expects images in [{low:g}, {high:g}]. Rescale "
                "them (uint8: x.float() / 255; standardised: undo the normalisation) or clamp "
                f"with x.clamp({low:g}, {high:g})."
            )


def module_dtype(*parts: object) -> torch.dtype | None:
    """Dtype of the first floating parameter of the first ``nn.Module`` among ``parts``."""
    for part in parts:
        if isinstance(part, nn.Module):
            for param in part.parameters():
                if param.is_floating_point():
                    return param.dtype
    return None


def module_device(*parts: object) -> torch.device | None:
    """Device of the first parameter of the first ``nn.Module`` among ``parts``."""
    for part in parts:
        if isinstance(part, nn.Module):
            param = next(part.parameters(), None)
            if param is not None:
                return param.device
    return None


class Explainer(ABC):
    """Base of every counterfactual explainer.

    Args:
        classifier: callable images -> ``[B, K]`` outputs; needs no gradients unless the
            method says so.
        codec: the generative model's ``encode`` / ``decode`` (None for pixel-space methods).
        outputs: whether the classifier returns ``"logits"`` (default) or ``"probs"``.
        batch_size: inputs per internal batch; bounds memory.
        progress: show a progress bar over batches.
        seed: seeds the random generators for the whole ``explain`` call (restoring the
            caller's state afterwards), so stochastic models (a sampling encoder, dropout)
            give the same result on every call; None draws from the caller's stream.
        tolerance: for a regressor (``outputs="value"``, required there): a CE is valid when
            ``|f(x') - target| <= tolerance``.
    """

    name: str = "explainer"
    regression: bool = False
    """Whether the method explains regressors (``outputs="value"``)."""
    unrecorded: tuple[str, ...] = ("classifier", "codec", "progress")
    """Constructor arguments left out of :meth:`config` (the models, the progress bar)."""
    unrecorded_when_none: tuple[str, ...] = ("tolerance",)
    """Constructor arguments left out of :meth:`config` when None."""

    def __init__(
        self,
        classifier: Classifier,
        codec: Codec | None = None,
        outputs: Outputs = "logits",
        batch_size: int = DEFAULT_BATCH,
        progress: bool = False,
        seed: int | None = None,
        tolerance: float | None = None,
    ) -> None:
        if not callable(classifier):
            raise ValueError("classifier must be callable: images [B, ...] -> outputs [B, K]")
        if codec is not None and not (hasattr(codec, "encode") and hasattr(codec, "decode")):
            raise ValueError("codec must have encode(x) -> z and decode(z) -> x methods")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        if outputs not in OUTPUT_KINDS:
            as_probs(torch.zeros(1, 2), outputs)
        check_tolerance(type(self).__name__, self.regression, outputs, tolerance)
        self.classifier = classifier
        self.codec = codec
        self.outputs = outputs
        self.batch_size = batch_size
        self.progress = progress
        self.seed = seed
        self.tolerance = tolerance
        self.nonfinite: NonFinite = "error"

    # -- the one public call -------------------------------------------------------------
    def explain(
        self,
        x: Tensor,
        target: float | Tensor,
        diverse: int = 1,
        callbacks: Sequence[Callback] = (),
    ) -> Explanation:
        """Counterfactuals of ``x`` towards ``target`` (one class, or one per sample; for a
        regressor, the wanted value(s)).

        Batches run on the models' device and floating dtype; the result comes back on
        ``x``'s device, its images in ``x``'s dtype. A target equal to an input's own class
        is allowed (the method still runs; ``valid`` then says whether the CE stayed there).
        ``diverse=K`` (methods with a diversity mechanism): K different CEs per input, the
        rows of an input consecutive (``variant`` 0..K-1; variant 0 is the usual CE). A NaN
        or infinite model output raises a ``ValueError`` naming the model and the step, or,
        after :meth:`set_nonfinite` ``("invalid")``, marks its sample (``nonfinite``).
        ``callbacks`` (and those attached around the call) hear of every batch
        (:class:`~leapfactual.training.ExplainBatch`).
        """
        listeners = active_callbacks(callbacks)
        config = self.config()  # before any work: a setting it cannot read is refused now
        check_inputs(x)
        check_range(x, {"classifier": self.classifier, "codec": self.codec})
        value = self.outputs == "value"
        targets = as_value_target(target, x.shape[0]) if value else as_target(target, x.shape[0])
        self._check_diverse(diverse)
        device = self.device or x.device
        dtype = module_dtype(self.classifier, self.codec) or x.dtype
        cost = Cost(n=x.shape[0] * diverse)
        parts: list[dict[str, Tensor]] = []
        starts = range(0, x.shape[0], self.batch_size)
        sizes = [
            Size("batch_size", self.batch_size, DEFAULT_BATCH, "batch_size=N, --batch-size N"),
            Size("diverse", diverse, 1, "diverse=K, --diverse K"),
        ]
        began = time.perf_counter()
        with (
            sized_by(f"explaining with {self.name}", sizes),
            Timer(cost),
            seeded(self.seed, torch.device(device)),
        ):
            for start in tqdm(starts, desc=self.name, disable=not self.progress, unit="batch"):
                xb = x[start : start + self.batch_size].to(device, dtype)
                tb = targets[start : start + self.batch_size].to(device)
                with torch.no_grad():
                    probs = self.classify(xb, cost, step=f"classifying the inputs ({self.name})")
                if value:
                    tb = tb.to(probs.dtype)
                else:
                    self._check_target(tb, probs.shape[1])
                if diverse == 1:
                    out = self.explain_batch(xb, tb, probs, cost)
                else:
                    out = self.explain_copies(xb, tb, probs, cost, diverse)
                    xb, tb, probs = (t.repeat_interleave(diverse, 0) for t in (xb, tb, probs))
                    out["variant"] = torch.arange(len(xb), device=xb.device) % diverse
                if self.nonfinite == "invalid":
                    out, probs, marked = mark_nonfinite(xb, out, probs)
                    out["nonfinite"] = marked
                source = probs[:, 0] if value else probs.argmax(dim=1)
                out.update(probs=probs, target=tb, source=source)
                parts.append({k: v.detach() for k, v in out.items()})
                if listeners:
                    self._report(listeners, parts, len(starts), x.shape[0] * diverse, began)
        merged = {k: torch.cat([p[k] for p in parts]).to(x.device) for k in parts[0]}
        for key in ("x_cf", "x_reliable", "trajectory_images"):
            if key in merged:
                merged[key] = merged[key].to(x.dtype)
        inputs = x.repeat_interleave(diverse, 0) if diverse > 1 else x
        return Explanation(
            method=self.name,
            x=inputs,
            cost=cost,
            config=config,
            tolerance=self.tolerance,
            **merged,
        )

    def _report(
        self,
        listeners: Sequence[Callback],
        parts: list[dict[str, Tensor]],
        batches: int,
        total: int,
        began: float,
    ) -> None:
        """Tell ``listeners`` of the batch just explained (the last of ``parts``)."""
        part = parts[-1]
        met = reaches(part["probs_cf"], part["target"], self.tolerance, part.get("nonfinite"))
        size = len(met)
        event = ExplainBatch(
            method=self.name,
            batch=len(parts),
            batches=batches,
            size=size,
            valid=int(met.sum()),
            done=sum(len(p["target"]) for p in parts),
            total=total,
            seconds=time.perf_counter() - began,
        )
        for callback in listeners:
            callback.on_explain_batch(event)

    @abstractmethod
    def explain_batch(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost
    ) -> dict[str, Tensor]:
        """Explain one batch already on the device; return at least ``x_cf`` and ``probs_cf``."""

    def explain_copies(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost, copies: int
    ) -> dict[str, Tensor]:
        """``copies`` different CEs of each input of a batch, the rows of an input consecutive
        (``[B * copies, ...]``); methods with a diversity mechanism override this."""
        raise NotImplementedError

    def _check_diverse(self, diverse: int) -> None:
        if isinstance(diverse, bool) or not isinstance(diverse, int) or diverse < 1:
            raise ValueError(f"diverse is a number of CEs per input (>= 1), got {diverse!r}")
        if diverse > 1 and type(self).explain_copies is Explainer.explain_copies:
            raise ValueError(
                f"{type(self).__name__} makes one CE per input; diverse={diverse} needs a "
                "method with a diversity mechanism (LeapFactual)"
            )

    def config(self) -> dict[str, Any]:
        """The settings that produced an explanation, JSON-serialisable: ``method``, the
        constructor's arguments (:mod:`leapfactual.explain.config`; this class's first,
        ``tolerance`` only when set), ``nonfinite`` when not ``"error"``, then the
        subclass's own arguments in their order."""
        base = parameter_names(Explainer)
        own = [n for n in parameter_names(type(self)) if n not in base]
        skip = (self.unrecorded, self.unrecorded_when_none)
        return {
            "method": self.name,
            **settings_of(self, base, *skip),
            **({"nonfinite": self.nonfinite} if self.nonfinite != "error" else {}),
            **settings_of(self, own, *skip),
        }

    def set_nonfinite(self, mode: str) -> Explainer:
        """What a NaN or infinite output of the classifier, encoder or decoder does:
        ``"error"`` (the default) stops with a ``ValueError`` naming the model and the step;
        ``"invalid"`` lets the method finish and marks every sample that met one invalid
        (``Explanation.nonfinite``; ``valid`` is then False), its CE set to its input and its
        other non-finite values to 0 (see :func:`mark_nonfinite`). Returns the explainer."""
        self.nonfinite = check_nonfinite(mode)
        return self

    # -- shared plumbing -----------------------------------------------------------------
    @property
    def device(self) -> torch.device | None:
        return module_device(*vars(self).values())

    def to(self, device: str | torch.device) -> Explainer:
        """Move the models this explainer holds (its ``nn.Module`` attributes) to ``device``;
        ``explain`` then runs there and returns results on the inputs' device."""
        for value in vars(self).values():
            if isinstance(value, nn.Module):
                value.to(device)
        return self

    def classify(self, images: Tensor, cost: Cost, step: str | None = None) -> Tensor:
        """Classifier probabilities ``[B, K]``, counted and checked finite."""
        return as_probs(self.classifier_outputs(images, cost, step), self.outputs)

    def classifier_outputs(
        self, images: Tensor, cost: Cost, step: str | None = None, check: bool = True
    ) -> Tensor:
        """The classifier's raw outputs (logits or probabilities, see ``outputs``), counted;
        a non-finite output raises a ``ValueError`` naming the model and ``step`` (with
        ``check=False`` the caller checks them itself)."""
        cost.classifier += images.shape[0]
        with model_errors("classifier", images):
            out = as_tensor_outputs(self.classifier(images))
        check_rows(out, images.shape[0], "classifier", self.classifier)
        if not check:
            return out
        return self._finite(out, "classifier", self.classifier, self._step(step, "classifying"))

    def encode(self, x: Tensor, cost: Cost, step: str | None = None) -> Tensor:
        assert self.codec is not None
        cost.encoder += x.shape[0]
        with model_errors("encoder", x):
            z = as_tensor_outputs(self.codec.encode(x), "codec.encode")
        check_rows(z, x.shape[0], "encoder", self.codec)
        return self._finite(z, "encoder", self.codec, self._step(step, "encoding"))

    def decode(self, z: Tensor, cost: Cost, step: str | None = None, check: bool = True) -> Tensor:
        assert self.codec is not None
        cost.decoder += z.shape[0]
        with model_errors("decoder", z):
            images = as_tensor_outputs(self.codec.decode(z), "codec.decode")
        check_rows(images, z.shape[0], "decoder", self.codec)
        if not check:
            return images
        return self._finite(images, "decoder", self.codec, self._step(step, "decoding"))

    def _finite(self, out: Tensor, role: str, model: object, step: str) -> Tensor:
        """``out`` checked by :func:`check_finite`, unless non-finite samples are to be marked
        invalid at the end of the batch (:meth:`set_nonfinite`)."""
        return out if self.nonfinite == "invalid" else check_finite(out, role, model, step)

    def _step(self, step: str | None, doing: str) -> str:
        """What a model call was for, for error messages (default: ``doing`` in the method)."""
        return step or f"{doing} in {self.name}'s search"

    @staticmethod
    def _check_target(target: Tensor, num_classes: int) -> None:
        if target.numel() and (target.min() < 0 or target.max() >= num_classes):
            raise ValueError(
                f"target classes must lie in [0, {num_classes - 1}] (the classifier has "
                f"{num_classes} outputs); got {sorted(set(target.tolist()))[:10]}. Give class "
                f"indices between 0 and {num_classes - 1}"
            )


def check_tolerance(method: str, regression: bool, outputs: str, tolerance: float | None) -> None:
    """Raise a ``ValueError`` unless ``tolerance`` fits the model: required (finite, > 0) for
    a regressor (``outputs="value"``, which the method must explain), None for a classifier."""
    if outputs != "value":
        if tolerance is not None:
            raise ValueError(
                f"tolerance={tolerance!r} is for regressors (outputs='value'); a classifier's "
                "CE is valid when the target class wins"
            )
        return
    if not regression:
        raise ValueError(
            f"{method} explains classifiers only; for a regressor (outputs='value') use "
            "LeapFactual, OptBased or LatentAttack"
        )
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise ValueError(
            "a regressor's CEs need a tolerance: valid when |f(x') - target| <= tolerance, in "
            "the regressor's units (e.g. tolerance=0.25)"
        )
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise ValueError(f"tolerance must be a finite number > 0, got {tolerance!r}")
