"""Counterfactual knowledge distillation (CFKD): repair a classifier with teacher-labelled CEs.

After Bender et al. (*Towards fixing Clever-Hans predictors with counterfactual knowledge
distillation*, 2023). Every round:

1. draw ``per_round`` training images (seeded) and a random other class for each (or every
   other class);
2. explain them with the *current* classifier (``explainer(classifier)``), keep the CEs it
   puts in their target and cut each down to its minimal sufficient change (the regions of
   the change the classifier needs, :func:`~leapfactual.audit.necessity.necessity`): a CE
   that a shortcut convinces then shows the shortcut alone;
3. ask the teacher: a CE that really shows the target gets it, one whose change is a
   shortcut keeps its source class;
4. add the labelled CEs to the training data and fine-tune the current weights on all of it
   (:func:`leapfactual.models.trainers.train_classifier`: the project's one training loop).

Our addition (``settings.counterexamples``, on by default): a CE the teacher keeps at its
source says that its change ``d`` (as shown: the minimal change) is no evidence of the target;
then neither adding nor removing it is evidence of any class. So each such CE also gives two
training images, with no question asked: ``d`` added to a training image of another class than
its target, and ``d`` taken from one of another class than its source, each labelled with its
own class (:func:`counterexamples`). A shortcut the CEs only take away (the patch off an 8:
the CE itself teaches that an 8 without the patch is an 8) is then also seen painted on other
digits, which the CEs never showed.

With ``settings.until_stable``, ``rounds`` is the most rounds: the model's reliance on the
candidates it relied on (``reliance``, measured by the caller) is taken before the first round
and after each, and CFKD stops after a round that lowered it by less than
:data:`~leapfactual.audit.options.STABLE` or brought it to 0 (each record keeps it).

With ``directory`` every finished round is written (weights, the labelled CEs, the history in
``cfkd.json``) and a call with the same arguments continues after the last finished round; a
directory of another job is refused. :class:`TargetTeacher` labels every CE with its target,
as ``leapfactual improve`` does: the same loop with it is plain retraining on CEs.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from leapfactual.audit.necessity import NECESSITY_TENSORS, Necessity, necessity, necessity_map
from leapfactual.audit.options import STABLE, CFKDSettings
from leapfactual.audit.teachers import Teacher, TeacherQueue
from leapfactual.data import Dataset
from leapfactual.explain import (
    Explainer,
    Models,
    Outputs,
    all_other_targets,
    build_explainer,
    random_other_targets,
)
from leapfactual.io import (
    load_module,
    load_tensors,
    parse_json,
    save_module,
    save_tensors,
    write_json,
)
from leapfactual.models import train_classifier
from leapfactual.pipeline import (
    FlowSettings,
    condition_images,
    encode_decode,
    fit_flow,
    model_device,
    predict_probs,
    to_dict,
)
from leapfactual.training import tensor_digest

logger = logging.getLogger(__name__)

ExplainerFactory = Callable[[nn.Module], Explainer]
"""Builds the explainer of a classifier (CFKD explains the current weights every round)."""
STATE = "cfkd.json"


class TargetTeacher:
    """Labels every CE with its target class (no teacher at all): plain retraining on CEs,
    as ``leapfactual improve`` labels them."""

    def label(self, queue: TeacherQueue) -> Tensor:
        return queue.target.clone().long().cpu()


@dataclass
class CFKDResult:
    """The repaired classifier, the labelled CEs added (``images``, ``labels``, with their
    ``sources``, ``targets`` and the ``index`` of the training image each CE explains), the
    settings and one history record per round."""

    classifier: nn.Module
    settings: CFKDSettings
    history: list[dict[str, Any]]
    images: Tensor
    labels: Tensor
    sources: Tensor
    targets: Tensor
    index: Tensor
    teacher: str = ""
    directory: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def labels_used(self) -> int:
        """How many CEs the teacher labelled, over all rounds."""
        return sum(int(r["asked"]) for r in self.history)

    @property
    def kept_source(self) -> int:
        """Labelled CEs the teacher gave their source class (shortcuts)."""
        return sum(int(r["kept_source"]) for r in self.history)


def leapfactual_factory(codec: Any, flow: Any, **options: Any) -> ExplainerFactory:
    """LeapFactual on ``codec`` and ``flow`` explaining whichever classifier it is given,
    built by the registry with ``options`` (its constructor keywords)."""

    def make(classifier: nn.Module) -> Explainer:
        explainer, _ = build_explainer("leapfactual", Models(classifier, codec, flow), **options)
        return explainer

    return make


def refitting_factory(
    codec: Any,
    images: Tensor,
    flow: FlowSettings,
    seed: int,
    *,
    outputs: Outputs = "logits",
    device: str | torch.device | None = None,
    **options: Any,
) -> ExplainerFactory:
    """LeapFactual with a CE-CFM flow fitted anew for each classifier it is given: on the
    latents of ``images``, conditioned on that classifier's outputs on their reconstructions
    or on ``images`` (``flow.condition_on``, as a run's flow stage), with ``flow`` settings
    and ``seed``. ``options``: LeapFactual's constructor keywords. A classifier with the same
    weights as an earlier one reuses its flow."""
    latents, recon = encode_decode(codec, images)
    fitted: dict[str, Any] = {}

    def make(classifier: nn.Module) -> Explainer:
        key = _weights_digest(classifier)
        if key not in fitted:
            shown = condition_images(flow, images, recon)
            probs = predict_probs(classifier, shown, outputs)
            fitted[key] = fit_flow(latents, probs, flow, seed, device=device)
        return leapfactual_factory(codec, fitted[key], outputs=outputs, **options)(classifier)

    return make


def cfkd(
    classifier: nn.Module,
    explainer: ExplainerFactory,
    train: Dataset,
    teacher: Teacher,
    settings: CFKDSettings = CFKDSettings(),
    *,
    directory: str | Path | None = None,
    device: str | torch.device | None = None,
    reliance: Callable[[nn.Module], float] | None = None,
    log: Callable[[str], None] = logger.info,
) -> CFKDResult:
    """Fine-tune a copy of ``classifier`` (an ``nn.Module`` returning logits) on CEs of
    ``train`` labelled by ``teacher``, ``settings.rounds`` times or, with
    ``settings.until_stable``, until ``reliance`` (a model's reliance on the shortcut) stops
    falling (see the module docstring); ``directory``: write every round and resume from it.
    ``classifier`` is not changed."""
    if not isinstance(classifier, nn.Module):
        raise ValueError(
            "CFKD fine-tunes the classifier's weights: give an nn.Module (a user classifier "
            "loaded from a file cannot be trained here)"
        )
    if not isinstance(teacher, Teacher):
        raise ValueError(f"teacher must have label(queue) -> labels, got {type(teacher).__name__}")
    if settings.until_stable and reliance is None:
        raise ValueError(
            "until_stable stops when reliance on the shortcut stops falling: give reliance= "
            "(a model -> its reliance on the candidates), or a number of rounds"
        )
    on = torch.device(device) if device is not None else model_device(classifier)
    model = copy.deepcopy(classifier).to(on).eval()
    k, names = train.num_classes, list(train.class_names)
    teacher_name = type(teacher).__name__
    identity = {
        "settings": to_dict(settings),
        "teacher": teacher_name,
        "train": {"shape": list(train.images.shape), "images": tensor_digest(train.images),
                  "labels": tensor_digest(train.labels)},
        "classifier": _weights_digest(classifier),
    }  # fmt: skip
    out = Path(directory) if directory is not None else None
    history: list[dict[str, Any]] = []
    keys = ("images", "labels", "sources", "targets", "index")
    added: dict[str, list[Tensor]] = {key: [] for key in keys}
    if out is not None:
        history = _resume(out, identity, model, added, on)
        if history:
            log(f"cfkd: {len(history)} of {settings.rounds} rounds already done in {out}")
    painted = [_painted(train, added, i, settings) for i in range(len(added["labels"]))]
    before = None if reliance is None or not settings.until_stable else reliance(model)
    for r in range(len(history), settings.rounds):
        if before is not None and _stable(before, history, log):
            break
        start = time.perf_counter()
        seed = _round_seed(settings.seed, r)
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(train), generator=gen)[: settings.per_round]
        labels_now = predict_probs(model, train.images[idx]).argmax(1)
        if settings.targets == "all-others":
            rows, targets = all_other_targets(labels_now, k)
            idx = idx[rows]
        else:
            targets = random_other_targets(labels_now, k, seed)
        x = train.images[idx]
        exp = explainer(model).explain(x, targets)
        x_cf, p_cf = exp.x_cf, exp.probs_cf
        if settings.reliable:
            if exp.x_reliable is None or exp.probs_reliable is None:
                raise ValueError("reliable=True needs an explainer that makes reliable CEs")
            x_cf, p_cf = exp.x_reliable, exp.probs_reliable
        keep = p_cf.argmax(1).cpu() == exp.target.cpu()
        if not settings.valid_only:
            keep = torch.ones_like(keep)
        sel = keep.nonzero().flatten()
        source, target = exp.source.cpu()[sel], exp.target.cpu()[sel]
        shown, needed = x_cf[sel].cpu(), None
        if (settings.needed or settings.minimal) and len(sel):
            nec = necessity(model, x[sel], shown, target, source)
            if settings.minimal:
                shown = minimal_change(x[sel], shown, nec)
                ok = nec.minimal_valid & (nec.minimal.any(1) | nec.minimal_edits.any(1))
                sel, source, target, shown = sel[ok], source[ok], target[ok], shown[ok]
                nec = _rows(nec, ok)
            needed = necessity_map(nec) if settings.needed else None
        queue = TeacherQueue(
            x[sel], shown, source, target, names, needed,
            ids=[f"r{r}-{int(i)}-{int(t)}" for i, t in zip(idx[sel], target, strict=True)],
        )  # fmt: skip
        answered = teacher.label(queue) if len(queue) else torch.zeros(0)
        given = _check_labels(answered, queue, k, teacher_name)
        for key, value in zip(added, (queue.x_cf, given, source, target, idx[sel]), strict=True):
            added[key].append(value)
        replay = torch.randperm(len(train), generator=gen)[: settings.replay]
        if settings.replay is None:
            replay = torch.arange(len(train))
        painted.append(_painted(train, added, r, settings))
        images = torch.cat([train.images[replay], *added["images"], *(p[0] for p in painted)])
        labels = torch.cat([train.labels[replay], *added["labels"], *(p[1] for p in painted)])
        model.train()
        losses = train_classifier(
            model,  # type: ignore[arg-type]
            images,
            labels,
            epochs=settings.epochs,
            batch_size=settings.batch,
            lr=settings.lr,
            seed=seed,
            augment=settings.augment,
            device=on,
        )
        model.eval()
        record = {
            "round": r,
            "explained": len(idx),
            "asked": len(queue),
            "validity": float(keep.float().mean()) if settings.valid_only else None,
            "kept_source": int((given == source).sum()),
            "kept_target": int((given == target).sum()),
            "other_class": int(((given != source) & (given != target)).sum()),
            "added_total": int(sum(len(t) for t in added["labels"])),
            "painted": len(painted[-1][1]),
            "losses": losses,
            "reliance": None if before is None or reliance is None else reliance(model),
            "seconds": time.perf_counter() - start,
        }
        history.append(record)
        most = f"at most {settings.rounds}" if settings.until_stable else str(settings.rounds)
        log(
            f"cfkd round {r + 1}/{most}: {record['asked']} CEs labelled "
            f"({record['kept_source']} kept their source, {record['kept_target']} the target"
            + (f"; {record['painted']} counterexamples)" if settings.counterexamples else ")")
            + ("" if record["reliance"] is None else f"; reliance {record['reliance']:.1%}")
        )
        if out is not None:
            _save_round(out, r, model, added, history, identity)
    images, labels, sources, targets, index = (
        torch.cat(v) if v else _empty(key, train) for key, v in added.items()
    )
    result = CFKDResult(
        model.eval(), settings, history, images, labels, sources, targets, index, teacher_name,
        out,
    )  # fmt: skip
    if out is not None:
        save_module(result.classifier, out / "classifier", cfkd=identity)
    return result


def _stable(before: float, history: Sequence[dict[str, Any]], log: Callable[[str], None]) -> bool:
    """Whether the last round lowered reliance by less than ``STABLE`` or brought it to 0
    (``before``: reliance before the first round); logs the stop and what CFKD cost."""
    if not history:
        return False
    values = [before, *(float(r["reliance"]) for r in history)]
    fell, now = values[-2] - values[-1], values[-1]
    if fell >= STABLE and now > 0:
        return False
    labels = sum(int(r["asked"]) for r in history)
    seconds = sum(float(r["seconds"]) for r in history)
    why = "reached 0" if now <= 0 else f"fell {fell:.1%} in the last round, less than {STABLE:.0%}"
    log(
        f"cfkd: reliance {before:.1%} -> {now:.1%} {why}: stopped after {len(history)} rounds "
        f"({labels} CEs labelled, {seconds:.0f} s of CFKD)"
    )
    return True


def counterexamples(
    train: Dataset,
    shown: Tensor,
    index: Tensor,
    source: Tensor,
    target: Tensor,
    given: Tensor,
    seed: int,
) -> tuple[Tensor, Tensor]:
    """For each CE the teacher kept at its source (``given == source``; input
    ``train.images[index]``, shown as ``shown``), its change ``d = shown - x``: added to a
    training image whose label is not its target, and taken from one whose label is not its
    source (each drawn with ``seed``), clamped to the training images' range; the images
    ``[2M, C, H, W]`` and their own labels ``[2M]`` (CPU)."""
    images, labels = train.images.cpu(), train.labels.cpu()
    low, high = float(images.min()), float(images.max())
    gen = torch.Generator().manual_seed(seed)
    pools = {int(c): (labels != c).nonzero().flatten() for c in labels.unique()}
    out, named = [], []
    for i in (given.cpu() == source.cpu()).nonzero().flatten().tolist():
        d = shown[i].cpu() - images[int(index[i])]
        for sign, avoid in ((1.0, int(target[i])), (-1.0, int(source[i]))):
            pool = pools.get(avoid, torch.arange(len(labels)))
            if not len(pool):
                continue
            pick = int(pool[torch.randint(len(pool), (1,), generator=gen)])
            out.append((images[pick] + sign * d).clamp(low, high))
            named.append(labels[pick])
    if not out:
        return images[:0], labels[:0]
    return torch.stack(out), torch.stack(named)


def _painted(
    train: Dataset, added: dict[str, list[Tensor]], r: int, settings: CFKDSettings
) -> tuple[Tensor, Tensor]:
    """Round ``r``'s counterexamples (none when ``settings.counterexamples`` is off): made
    again from its labelled CEs, so that a resumed job trains on the same images."""
    if not settings.counterexamples:
        return train.images[:0].cpu(), train.labels[:0].cpu()
    shown, given, source, target, index = (added[k][r] for k in added)
    seed = _round_seed(settings.seed, r) + 1
    return counterexamples(train, shown, index, source, target, given, seed)


def minimal_change(x: Tensor, x_cf: Tensor, nec: Necessity) -> Tensor:
    """``x`` with only the parts (global edits and regions) of each CE's greedy minimal
    sufficient change taken from ``x_cf`` (``nec``: the necessity audit of these pairs)."""
    return nec.compose(x, x_cf, nec.minimal, nec.minimal_edits).to(x.device, x.dtype)


def _rows(nec: Necessity, keep: Tensor) -> Necessity:
    """The audit of the CEs at ``keep`` only."""
    tensors = {k: getattr(nec, k)[keep] for k in NECESSITY_TENSORS}
    return Necessity(cost=nec.cost, config=nec.config, **tensors)


def _round_seed(seed: int, r: int) -> int:
    return seed * 10_007 + r


def _weights_digest(model: nn.Module) -> str:
    parts = [tensor_digest(v) for v in model.state_dict().values()]
    return tensor_digest(torch.tensor([int(p, 16) % (1 << 62) for p in parts]))


def _check_labels(labels: Tensor, queue: TeacherQueue, k: int, teacher: str) -> Tensor:
    if not isinstance(labels, Tensor) or labels.shape != (len(queue),):
        raise ValueError(f"the teacher must return {len(queue)} labels, got {labels!r:.80}")
    if labels.is_floating_point() and not bool(torch.isfinite(labels).all()):
        bad = int((~torch.isfinite(labels)).sum())
        raise ValueError(
            f"the teacher ({teacher}) returned {bad} NaN or infinite labels of {len(labels)}; "
            "no CE is learnt from them. Check the teacher on these CEs"
        )
    labels = labels.long().cpu()
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= k):
        raise ValueError(
            f"the teacher's labels must be classes 0..{k - 1}; got {sorted(set(labels.tolist()))}"
            " (-1: a CE it did not answer)"
        )
    return labels


def _empty(key: str, train: Dataset) -> Tensor:
    if key == "images":
        return train.images[:0]
    return torch.zeros(0, dtype=torch.long)


def _save_round(
    out: Path,
    r: int,
    model: nn.Module,
    added: dict[str, list[Tensor]],
    history: list[dict[str, Any]],
    identity: dict[str, Any],
) -> None:
    folder = out / f"round-{r}"
    folder.mkdir(parents=True, exist_ok=True)
    save_module(model, folder / "classifier")
    save_tensors(folder / "added", {k: v[-1] for k, v in added.items()}, {"kind": "cfkd-added"})
    state = {"kind": "cfkd", "identity": identity, "history": history}
    write_json(out / STATE, state, indent=2)


def _resume(
    out: Path,
    identity: dict[str, Any],
    model: nn.Module,
    added: dict[str, list[Tensor]],
    device: torch.device,
) -> list[dict[str, Any]]:
    path = out / STATE
    if not path.is_file():
        return []
    state = parse_json(path.read_bytes(), path)
    old = json.loads(json.dumps(state.get("identity")))
    if old != json.loads(json.dumps(identity)):
        changed = sorted(key for key in identity if old is None or old.get(key) != identity[key])
        raise ValueError(
            f"{out} holds a CFKD job with another {', '.join(changed) or 'setup'}; use another "
            "directory, or delete it to start over"
        )
    history: list[dict[str, Any]] = list(state["history"])
    for r in range(len(history)):
        tensors, _ = load_tensors(out / f"round-{r}" / "added")
        for key in added:
            added[key].append(tensors[key])
    if history:
        last = load_module(out / f"round-{len(history) - 1}" / "classifier", device)
        model.load_state_dict(last.state_dict())
    return history


def load_cfkd(directory: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """The repaired classifier a finished :func:`cfkd` job wrote to ``directory`` and its
    record (settings, teacher, history)."""
    out = Path(directory)
    state = parse_json((out / STATE).read_bytes(), out / STATE)
    return load_module(out / "classifier", device), state


def summary_lines(history: Sequence[dict[str, Any]]) -> list[str]:
    """One line per round, for logs and pages."""
    return [
        f"round {r['round'] + 1}: {r['asked']} of {r['explained']} CEs labelled, "
        f"{r['kept_source']} kept their source, {r['kept_target']} their target, "
        f"{r['other_class']} another class"
        for r in history
    ]


__all__ = [
    "CFKDResult",
    "CFKDSettings",
    "ExplainerFactory",
    "TargetTeacher",
    "cfkd",
    "counterexamples",
    "leapfactual_factory",
    "load_cfkd",
    "minimal_change",
    "refitting_factory",
    "summary_lines",
]
