"""Attribute attributions: which human-named attributes a counterfactual changed.

The companion of counterfactual attacks (Goldwasser & Hooker, docs/method.md §7): fit one
logistic regression ``P_k(z)`` per descriptive attribute ``k`` (thick, slanted, smiling, ...)
on latents; the *local* importance of ``k`` for one counterfactual is ``P_k(z') - P_k(z)``,
its *global* importance the mean over many counterfactuals.

>>> probes = fit_attribute_probes(latents, attributes, names=["thick", "slanted"])
>>> exp = LatentAttack(classifier, codec).explain(x, target=3)
>>> attr = attribute_attributions(probes, exp.z, exp.z_cf, valid=exp.valid)
>>> attr.as_dict()  # {"thick": 0.31, "slanted": -0.02}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from leapfactual.explain._linear import fit_sigmoid


@dataclass(frozen=True)
class AttributeProbes:
    """One logistic regression per attribute on latents: ``P_k(z) = sigmoid(w_k.z + b_k)``.

    Attributes:
        weight: ``[A, D]`` (float64, CPU).
        bias: ``[A]``.
        names: one name per attribute.
    """

    weight: Tensor
    bias: Tensor
    names: tuple[str, ...]

    def predict(self, z: Tensor) -> Tensor:
        """Probability of every attribute, ``[N, A]``, in ``z``'s dtype and device."""
        if not isinstance(z, Tensor) or z.dim() != 2 or z.shape[1] != self.weight.shape[1]:
            raise ValueError(
                f"the probes were fitted on {self.weight.shape[1]}-d latents; got "
                + (f"shape {tuple(z.shape)}" if isinstance(z, Tensor) else type(z).__name__)
            )
        weight = self.weight.to(z.device, z.dtype)
        return torch.sigmoid(z @ weight.T + self.bias.to(z.device, z.dtype))


@dataclass(frozen=True)
class Attributions:
    """Local (per counterfactual) and global (mean) attribute importances.

    Attributes:
        names: the attributes.
        local_importance: ``P_k(z') - P_k(z)`` per counterfactual, ``[N, A]``.
        global_importance: mean of the local importances over the counted counterfactuals
            (those marked valid, if a mask was given), ``[A]``.
    """

    names: tuple[str, ...]
    local_importance: Tensor
    global_importance: Tensor

    def as_dict(self) -> dict[str, float]:
        """Global importance by attribute name."""
        return {n: float(v) for n, v in zip(self.names, self.global_importance, strict=True)}


def fit_attribute_probes(
    z: Tensor,
    attributes: Tensor,
    names: Sequence[str] | None = None,
    l2: float = 1e-3,
    max_iter: int = 200,
) -> AttributeProbes:
    """Fit one L2-regularised logistic regression per attribute on latents ``z [N, D]``.

    ``attributes``: ``[N, A]`` (or ``[N]`` for one) binary values, 0/1 or bool; threshold a
    continuous attribute first (e.g. thickness above its median). ``l2`` penalises the
    weights on standardised latents, added to each attribute's mean cross-entropy.
    """
    if not isinstance(z, Tensor) or z.dim() != 2 or not z.is_floating_point():
        raise ValueError(
            "z must be float latents [N, D], got "
            + (f"shape {tuple(z.shape)}" if isinstance(z, Tensor) else type(z).__name__)
        )
    if not isinstance(attributes, Tensor):
        raise ValueError(f"attributes must be a tensor [N, A], got {type(attributes).__name__}")
    if attributes.dim() == 1:
        attributes = attributes.unsqueeze(1)
    if attributes.dim() != 2 or attributes.shape[0] != z.shape[0]:
        raise ValueError(
            f"attributes must be [N, A] with N = {z.shape[0]} (one row per latent), got shape "
            f"{tuple(attributes.shape)}"
        )
    values = attributes.detach().double()
    if not ((values == 0) | (values == 1)).all():
        raise ValueError(
            "attributes must be binary (0/1 or bool); threshold continuous ones first, "
            "e.g. at their median"
        )
    names = tuple(names) if names is not None else tuple(f"attr{k}" for k in range(values.shape[1]))
    if len(names) != values.shape[1]:
        raise ValueError(f"got {len(names)} names for {values.shape[1]} attributes")
    constant = [n for n, col in zip(names, values.T, strict=True) if col.min() == col.max()]
    if constant:
        raise ValueError(f"attributes {constant} take one value only: nothing to fit")
    if l2 < 0 or max_iter < 1:
        raise ValueError(f"need l2 >= 0 and max_iter >= 1; got {l2}, {max_iter}")
    weight, bias = fit_sigmoid(z, values, l2, max_iter)
    return AttributeProbes(weight, bias, names)


def attribute_attributions(
    probes: AttributeProbes, z: Tensor, z_cf: Tensor, valid: Tensor | None = None
) -> Attributions:
    """Local importances ``P_k(z_cf) - P_k(z)`` and their mean (over ``valid`` rows only, if
    given: e.g. ``Explanation.valid``, to count only counterfactuals that flipped)."""
    if not isinstance(z_cf, Tensor) or not isinstance(z, Tensor) or z_cf.shape != z.shape:
        raise ValueError(
            "z and z_cf must be latents of the same shape (pixel-space explainers have none)"
        )
    local = probes.predict(z_cf) - probes.predict(z)
    counted = local
    if valid is not None:
        if valid.shape != (z.shape[0],):
            raise ValueError(f"valid must be a [N] mask with N = {z.shape[0]}")
        if not valid.any():
            raise ValueError("no counterfactual is marked valid: nothing to average")
        counted = local[valid.to(local.device, torch.bool)]
    return Attributions(probes.names, local, counted.mean(dim=0))


__all__ = ["AttributeProbes", "Attributions", "attribute_attributions", "fit_attribute_probes"]
