"""CE-CFM: the conditional flow-matching loss and its trainer (on the shared loop).

The objective. Data latents ``z1`` come with conditions ``c`` made from *the explained
classifier's output* on them (not the labels; encoded by the field's ``ConditionSpec``), so
the flow learns the model's partition of latent space. With noise ``z0 ~ p0`` (the source),
``t ~ U(0, 1)`` and ``eps ~ N(0, I)``, a field ``v`` is trained on straight paths::

    c    = enc(f(D(z1)))                                  (f: the classifier, D: the decoder)
    z_t  = t z1 + (1 - t) z0 + sigma eps
    u    = z1 - z0                                        (the target velocity)
    L(v) = E_{t, (z0, z1), eps} || v(t, z_t, c) - u ||^2

``(z0, z1)`` are drawn independently, or paired within each minibatch by an exact
optimal-transport assignment (``coupling="ot"``). t = 0 is noise, t = 1 is data. With
``flow.condition_on = "input"`` the classifier reads the image ``z1`` was encoded from
instead of its reconstruction ``D(z1)`` (docs/method.md §3).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from torch import Tensor

from leapfactual.flow.fields import VectorField
from leapfactual.training import fit

Coupling = Literal["independent", "ot"]


class Source(Protocol):
    """A source (noise) distribution the flow starts from at t = 0."""

    def sample(self, n: int, dim: int, generator: torch.Generator, like: Tensor) -> Tensor: ...


@dataclass(frozen=True)
class GaussianSource:
    """Standard normal N(0, I): the default source."""

    def sample(self, n: int, dim: int, generator: torch.Generator, like: Tensor) -> Tensor:
        out = torch.randn(n, dim, generator=generator, dtype=like.dtype)
        return out.to(like.device)


@dataclass(frozen=True)
class UniformSource:
    """Uniform on the box ``[low, high]^dim`` (the 2-D toy uses the data square)."""

    low: float = -0.5
    high: float = 0.5

    def sample(self, n: int, dim: int, generator: torch.Generator, like: Tensor) -> Tensor:
        out = torch.rand(n, dim, generator=generator, dtype=like.dtype)
        return (self.low + (self.high - self.low) * out).to(like.device)


def ot_pair(z0: Tensor, z1: Tensor) -> Tensor:
    """Reorder ``z0`` so that ``(z0[i], z1[i])`` is an exact minibatch OT pairing (squared L2)."""
    from scipy.optimize import linear_sum_assignment

    cost = torch.cdist(z1.detach().double(), z0.detach().double()).pow(2).cpu().numpy()
    _, cols = linear_sum_assignment(cost)
    return z0[torch.as_tensor(cols, device=z0.device)]


def cfm_loss(
    field: VectorField,
    z1: Tensor,
    cond: Tensor,
    generator: torch.Generator,
    source: Source = GaussianSource(),
    sigma: float = 0.0,
    coupling: Coupling = "independent",
) -> Tensor:
    """Conditional flow-matching loss of ``field`` on data latents ``z1`` under ``cond``."""
    n, dim = z1.shape
    z0 = source.sample(n, dim, generator, z1)
    if coupling == "ot":
        z0 = ot_pair(z0, z1)
    elif coupling != "independent":
        raise ValueError(f"unknown coupling {coupling!r}; choose 'independent' or 'ot'")
    t = torch.rand(n, 1, generator=generator, dtype=z1.dtype).to(z1.device)
    zt = t * z1 + (1 - t) * z0
    if sigma > 0:
        zt = zt + sigma * torch.randn(n, dim, generator=generator, dtype=z1.dtype).to(z1.device)
    return (field(t.squeeze(1), zt, cond) - (z1 - z0)).pow(2).mean()


def train_flow(
    field: VectorField,
    latents: Tensor,
    conditions: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    weight_decay: float = 0.0,
    lr_milestones: tuple[int, ...] = (),
    lr_decay: float = 0.1,
    source: Source = GaussianSource(),
    sigma: float = 0.0,
    coupling: Coupling = "independent",
    progress: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    stop: Callable[[int], bool] | None = None,
) -> list[float]:
    """Train ``field`` with the CE-CFM loss; return the mean loss of every epoch.

    ``conditions`` are already encoded with ``field.condition`` (e.g.
    ``field.condition.from_probs(softmax(classifier(decode(latents))))``). Adam (AdamW when
    ``weight_decay > 0``), learning rate multiplied by ``lr_decay`` at each epoch in
    ``lr_milestones``. Same seed, same data, same device: identical weights. With a
    ``checkpoint`` directory the run is saved every epoch and resumes exactly where it stopped
    (see :func:`leapfactual.training.fit`; so is ``stop``).
    """
    field.check_latents(latents)
    field.condition.validate(conditions, latents.shape[0])
    if coupling not in ("independent", "ot"):
        raise ValueError(f"unknown coupling {coupling!r}; choose 'independent' or 'ot'")

    def step(batch: Sequence[Tensor], generator: torch.Generator) -> Tensor:
        return cfm_loss(field, batch[0], batch[1], generator, source, sigma, coupling)

    return fit(
        field,
        [latents, conditions],
        step,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        lr_milestones=lr_milestones,
        lr_decay=lr_decay,
        seed=seed,
        progress=progress,
        desc="flow",
        checkpoint=checkpoint,
        settings={"loss": "cfm", "source": repr(source), "sigma": sigma, "coupling": coupling},
        stop=stop,
    )
