"""A codec for GAN generators with a mapping and a synthesis network (StyleGAN-like).

``decode(w) = synthesis(w)``; ``encode(x)`` is GAN inversion: ``w`` starts at the mean of the
mapping network's outputs and is optimised (Adam) to reconstruct ``x``. The user builds the two
modules; weights come from a local file: safetensors, or a ``.pt`` / ``.pth`` state dict read with
``torch.load(weights_only=True)``. The file holds the generator's state dict, keys
``mapping.*`` and ``synthesis.*`` (as ``G.state_dict()`` of a StyleGAN generator has them).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PT_SUFFIXES = (".pt", ".pth")


def load_generator_weights(
    path: str | os.PathLike[str], mapping: nn.Module, synthesis: nn.Module
) -> None:
    """Load ``mapping.*`` and ``synthesis.*`` from ``path`` into the modules (strict).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for an unknown format or
    keys that do not fit the modules.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"GAN weights {file} do not exist; give the path of a local .safetensors (or .pt) "
            "file holding the generator's state dict (mapping.* and synthesis.* keys)"
        )
    if file.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(file))
        except (SafetensorError, OSError) as err:
            raise ValueError(f"{file} is not a readable safetensors file ({err})") from err
    elif file.suffix in PT_SUFFIXES:
        try:
            state = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as err:  # weights_only refuses pickled code with various errors
            raise ValueError(
                f"{file} is not a plain state dict torch.load(weights_only=True) can read "
                f"({type(err).__name__}: {err}); re-save the generator's state_dict()"
            ) from err
    else:
        raise ValueError(
            f"unknown weights format {file.suffix!r} for {file}; use .safetensors (or an "
            "explicit .pt / .pth state dict)"
        )
    for name, module in (("mapping", mapping), ("synthesis", synthesis)):
        prefix = f"{name}."
        part = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
        try:
            result = module.load_state_dict(part, strict=False)
            problem = (
                f"missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}"
                if result.missing_keys or result.unexpected_keys
                else ""
            )
        except RuntimeError as err:  # shape mismatches
            problem = str(err).strip().splitlines()[-1].strip()
        if problem:
            raise ValueError(
                f"{file} does not fit the {name} network: {problem} (keys are read under "
                f"'{prefix}'); check that the modules match the checkpoint's architecture"
            )


class GANCodec(nn.Module):
    """Codec over a generator's w space.

    Args:
        mapping: module ``z [B, z_dim] -> w`` (``[B, w_dim]``, or ``[B, num_ws, w_dim]``).
        synthesis: module ``w -> images``; it gets ``[B, w_dim]``, or ``w`` repeated to
            ``[B, num_ws, w_dim]`` when ``num_ws`` is set (StyleGAN).
        weights: a local weights file (see :func:`load_generator_weights`); None keeps the
            modules' weights.
        z_dim: size of the mapping's input (default: ``mapping.z_dim``).
        num_ws: see ``synthesis``.
        steps, lr: Adam steps and learning rate of the inversion.
        w_reg: weight of ``|w - w_mean|^2`` in the inversion loss (keeps w near the data).
        mean_samples: z samples averaged for the mean w (unless the mapping has ``w_avg``).
        seed: seeds the mean-w samples and any randomness of the synthesis during inversion.
        device: where to put the modules (default: where they are).
    """

    def __init__(
        self,
        mapping: nn.Module,
        synthesis: nn.Module,
        weights: str | os.PathLike[str] | None = None,
        *,
        z_dim: int | None = None,
        num_ws: int | None = None,
        steps: int = 200,
        lr: float = 0.05,
        w_reg: float = 0.0,
        mean_samples: int = 10_000,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        if steps < 0 or not lr > 0 or w_reg < 0 or mean_samples < 1:
            raise ValueError(
                f"need steps >= 0, lr > 0, w_reg >= 0, mean_samples >= 1; got steps={steps}, "
                f"lr={lr}, w_reg={w_reg}, mean_samples={mean_samples}"
            )
        self.z_dim = z_dim if z_dim is not None else getattr(mapping, "z_dim", None)
        if not isinstance(self.z_dim, int) or self.z_dim < 1:
            raise ValueError(
                "the mapping network's input size is unknown: pass z_dim=... (or give the "
                "mapping module a z_dim attribute)"
            )
        if weights is not None:
            load_generator_weights(weights, mapping, synthesis)
        self.mapping: nn.Module = mapping
        self.synthesis: nn.Module = synthesis
        self.num_ws, self.steps, self.lr, self.w_reg = num_ws, steps, lr, w_reg
        self.mean_samples, self.seed = mean_samples, seed
        self.requires_grad_(False)
        self.eval()
        if device is not None:
            self.to(device)
        self.w_mean: Tensor
        self.register_buffer("w_mean", self._mean_w(), persistent=False)
        self.last_loss: Tensor | None = None

    @property
    def device(self) -> torch.device:
        return next(self.parameters(), torch.empty(0)).device

    @torch.no_grad()
    def _mean_w(self) -> Tensor:
        w_avg = getattr(self.mapping, "w_avg", None)
        if isinstance(w_avg, Tensor):
            return w_avg.detach().reshape(-1).float()
        gen = torch.Generator().manual_seed(self.seed)
        assert isinstance(self.z_dim, int)
        total = torch.zeros(())
        for start in range(0, self.mean_samples, 1024):
            n = min(1024, self.mean_samples - start)
            z = torch.randn(n, self.z_dim, generator=gen).to(self.device)
            w = self.mapping(z)
            w = w[:, 0] if w.dim() == 3 else w
            total = total + w.float().sum(0).cpu()
        return (total / self.mean_samples).to(self.device)

    def decode(self, w: Tensor) -> Tensor:
        """Images from latents ``w [B, w_dim]``."""
        if w.dim() != 2 or w.shape[1] != self.w_mean.shape[0]:
            raise ValueError(
                f"w must be [B, {self.w_mean.shape[0]}] (the mapping's w size); got "
                f"{tuple(w.shape)}"
            )
        if self.num_ws is not None:
            w = w.unsqueeze(1).expand(-1, self.num_ws, -1)
        return self.synthesis(w)

    def encode(self, x: Tensor) -> Tensor:
        """GAN inversion: the ``w`` whose decoding best reconstructs each image of ``x``.

        Each sample's loss (pixel MSE plus ``w_reg |w - w_mean|^2``) is optimised on its own
        (the batch loss is their sum), so a sample's result does not depend on its batch. The
        final per-sample losses are kept in ``self.last_loss``.
        """
        target = x.to(self.device)
        w = self.w_mean.to(target.dtype).expand(x.shape[0], -1).clone().requires_grad_(True)
        opt = torch.optim.Adam([w], lr=self.lr)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.enable_grad(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            for _ in range(self.steps):
                loss = self._loss(w, target)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
            with torch.no_grad():
                self.last_loss = self._loss(w, target)
        return w.detach()

    def _loss(self, w: Tensor, target: Tensor) -> Tensor:
        recon = self.decode(w)
        if recon.shape != target.shape:
            raise ValueError(
                f"the synthesis network makes images of shape {tuple(recon.shape[1:])} but the "
                f"inputs have shape {tuple(target.shape[1:])}; resize the inputs to match"
            )
        per_sample = F.mse_loss(recon, target, reduction="none").flatten(1).mean(1)
        if self.w_reg > 0:
            per_sample = per_sample + self.w_reg * (w - self.w_mean).pow(2).mean(1)
        return per_sample
