"""Linear reflection across a latent probe's hyperplane (DiDAE, InterfaceGAN; docs/method.md §7)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from leapfactual.explain._linear import fit_softmax
from leapfactual.explain.base import Explainer, Outputs, check_inputs, seeded
from leapfactual.explain.explanation import Cost, Explanation
from leapfactual.models import Classifier, Codec
from leapfactual.training import Callback


class LatentReflection(Explainer):
    """Gradient-free counterfactuals: move the latent across a linear probe's hyperplane.

    :meth:`fit` learns a multinomial logistic regression ``W [K, D], b [K]`` on latents
    (labels default to the classifier's predictions). To explain ``z`` towards ``y'``, with
    ``y`` the probe's class of ``z``, take the pair's hyperplane ``w = W[y'] - W[y]``,
    ``b = b[y'] - b[y]`` and move ``z' = z - s * (w.z + b) / (w.w) * w``. The signed value
    ``w.z + b`` becomes ``(1 - s) (w.z + b)``: ``s = 1`` lands on the hyperplane, and the
    default ``s = 2`` is the mirror image, which lands past it by the margin the sample had
    on its own side (``s > 2`` pushes further into the target class).

    The source ``y`` is the *probe's* class of ``z`` (not the classifier's label): then
    ``w.z + b <= 0`` always holds and the move always goes towards ``y'``; a sample the probe
    already puts in ``y'`` is returned unchanged. With more than two classes, crossing the
    ``y | y'`` hyperplane makes ``y'`` beat ``y`` but not necessarily every other class.
    Deterministic; the classifier needs no gradients.

    Args:
        classifier: callable images -> outputs ``[B, K]``.
        codec: ``encode`` / ``decode`` of the generative model; latents must be ``[B, D]``.
        scale: the factor ``s`` above (2: a reflection).
        l2: L2 penalty of the probe on standardised latents (added to the mean
            cross-entropy; 1e-3 matches scikit-learn's ``C=1`` on 1,000 samples).
        max_iter: L-BFGS iterations for the probe.
        outputs, batch_size, progress, seed: see :class:`Explainer`.

    Attributes (after :meth:`fit`):
        weight_, bias_: the probe, float64 on the CPU.
        class_counts_: fitting samples per class ``[K]``.
    """

    name = "reflection"

    def __init__(
        self,
        classifier: Classifier,
        codec: Codec,
        scale: float = 2.0,
        l2: float = 1e-3,
        max_iter: int = 200,
        outputs: Outputs = "logits",
        batch_size: int = 256,
        progress: bool = False,
        seed: int | None = 0,
    ) -> None:
        if codec is None:
            raise ValueError("LatentReflection works in a latent space: give a codec")
        super().__init__(classifier, codec, outputs, batch_size, progress, seed)
        if not scale > 0 or l2 < 0 or max_iter < 1:
            raise ValueError(
                f"need scale > 0, l2 >= 0 and max_iter >= 1; got {scale}, {l2}, {max_iter}"
            )
        self.scale = scale
        self.l2 = l2
        self.max_iter = max_iter
        self.weight_: Tensor | None = None
        self.bias_: Tensor | None = None
        self.class_counts_: Tensor | None = None

    @property
    def fitted(self) -> bool:
        return self.weight_ is not None

    def fit(self, x: Tensor, labels: Tensor | None = None) -> LatentReflection:
        """Fit the probe on the latents of images ``x`` (batched like :meth:`explain`).

        ``labels``: one class per image; by default the classifier's predictions on the
        decoded latents, i.e. the partition of latent space that the counterfactual must
        cross (the images it will judge are decodings too). Returns ``self``.
        """
        check_inputs(x)
        if labels is not None:
            labels = _check_labels(labels, x.shape[0])
        device = self.device or x.device
        cost = Cost(n=x.shape[0])
        latents: list[Tensor] = []
        predicted: list[Tensor] = []
        num_classes = 0
        with torch.no_grad(), seeded(self.seed, torch.device(device)):
            for start in range(0, x.shape[0], self.batch_size):
                z = self.encode(x[start : start + self.batch_size].to(device), cost)
                _check_latents(z)
                latents.append(z.cpu())
                if labels is None:
                    probs = self.classify(self.decode(z, cost), cost)
                    num_classes = probs.shape[1]
                    predicted.append(probs.argmax(dim=1).cpu())
        if labels is None:
            labels = torch.cat(predicted)
        else:
            num_classes = int(labels.max()) + 1
        if num_classes < 2 or len(labels.unique()) < 2:
            raise ValueError(
                "the probe needs samples of at least two classes; got only class "
                f"{labels.unique().tolist()}"
            )
        self.weight_, self.bias_ = fit_softmax(
            torch.cat(latents), labels, num_classes, self.l2, self.max_iter
        )
        self.class_counts_ = torch.bincount(labels, minlength=num_classes)
        return self

    def explain(
        self,
        x: Tensor,
        target: float | Tensor,
        diverse: int = 1,
        callbacks: Sequence[Callback] = (),
    ) -> Explanation:
        if not self.fitted:
            raise ValueError(
                "LatentReflection is not fitted: call .fit(x) on images (labels default to "
                "the classifier's predictions) before .explain()"
            )
        return super().explain(x, target, diverse, callbacks)

    @torch.no_grad()
    def explain_batch(
        self, x: Tensor, target: Tensor, probs: Tensor, cost: Cost
    ) -> dict[str, Tensor]:
        assert self.weight_ is not None and self.bias_ is not None
        assert self.class_counts_ is not None
        z = self.encode(x, cost)
        _check_latents(z)
        if z.shape[1] != self.weight_.shape[1]:
            raise ValueError(
                f"the probe was fitted on {self.weight_.shape[1]}-d latents, the codec gives "
                f"{z.shape[1]}-d ones; fit again with this codec"
            )
        counts = self.class_counts_.to(target.device)
        unseen = sorted({int(t) for t in target if t >= len(counts) or counts[t] == 0})
        if unseen:
            raise ValueError(
                f"the probe saw no samples of target class(es) {unseen} when it was fitted; "
                "fit it on data that covers every target"
            )
        weight = self.weight_.to(z.device, z.dtype)
        bias = self.bias_.to(z.device, z.dtype)
        source = (z @ weight.T + bias).argmax(dim=1)
        w = weight[target] - weight[source]
        b = bias[target] - bias[source]
        signed = (w * z).sum(dim=1) + b
        norm2 = (w * w).sum(dim=1)
        shift = torch.where(norm2 > 0, self.scale * signed / norm2.clamp_min(1e-30), 0.0)
        z_cf = z - shift.unsqueeze(1) * w
        x_cf = self.decode(z_cf, cost)
        return {
            "z": z,
            "z_cf": z_cf,
            "x_cf": x_cf,
            "probs_cf": self.classify(x_cf, cost),
            "steps": torch.ones(len(z), dtype=torch.long, device=z.device),
        }


def _check_latents(z: Tensor) -> None:
    if z.dim() != 2 or not z.is_floating_point():
        raise ValueError(
            "LatentReflection needs flat float latents [B, D]; the encoder returned shape "
            f"{tuple(z.shape)} and dtype {z.dtype}"
        )


def _check_labels(labels: Tensor, n: int) -> Tensor:
    if (
        not isinstance(labels, Tensor)
        or labels.is_floating_point()
        or labels.dim() != 1
        or labels.numel() != n
    ):
        raise ValueError(
            f"labels must be a 1-D integer tensor with one class per image ({n}), got "
            + (
                f"shape {tuple(labels.shape)} and dtype {labels.dtype}"
                if isinstance(labels, Tensor)
                else type(labels).__name__
            )
        )
    if labels.min() < 0:
        raise ValueError(f"labels must be class indices >= 0, got {int(labels.min())}")
    return labels.cpu().long()


__all__ = ["LatentReflection"]
