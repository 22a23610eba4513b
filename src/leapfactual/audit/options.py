"""What the command line and settings choose about a repair: :class:`CFKDSettings` (a plain
dataclass without torch, so a bad value is refused before it loads)."""

from __future__ import annotations

from dataclasses import dataclass

STABLE = 0.02
"""With ``until_stable``, CFKD stops after a round that lowered reliance by less than this."""
AUTO_ROUNDS = 8
"""The most rounds of ``--rounds auto`` (rounds until reliance stops falling)."""
AUDIT_LIMIT = 50
"""Test images an audit explains toward every other class unless told otherwise (``audit``'s
``--limit``, ``repair``'s ``--audit-limit``)."""


def parse_rounds(value: str) -> tuple[int, bool]:
    """``--rounds``: a positive number of rounds, or ``auto`` (at most :data:`AUTO_ROUNDS`,
    until reliance stops falling); ``(rounds, until_stable)``."""
    if value.strip().lower() == "auto":
        return AUTO_ROUNDS, True
    try:
        rounds = int(value)
    except ValueError:
        rounds = 0
    if rounds < 1:
        raise ValueError(
            f"--rounds must be a positive whole number or 'auto' (rounds until reliance on the "
            f"audit's candidates stops falling, at most {AUTO_ROUNDS}), got {value!r}"
        )
    return rounds, False


@dataclass(frozen=True)
class CFKDSettings:
    """Rounds, CEs per round and fine-tuning of :func:`cfkd`.

    ``per_round``: training images explained per round, each toward a random other class
    (``targets="random"``) or toward every other class (``"all-others"``: K - 1 CEs each);
    ``epochs`` / ``lr`` / ``batch`` / ``augment``: fine-tuning of the current weights on
    every labelled CE so far plus the training data (``replay``: only that many training
    images, drawn anew each round; None: all of them); ``reliable``: teach with reliable CEs
    instead of minimal ones; ``valid_only``: ask only about CEs the classifier puts in the
    target (the others show nothing it believes); ``minimal``: teach with the CE's minimal
    sufficient change only (the regions of the change the classifier needs, pasted into the
    input, :func:`~leapfactual.audit.necessity.necessity`), kept where it alone reaches the
    target: a shortcut then shows as the shortcut alone; ``needed``: pass the necessity maps
    to the teacher (the human teacher's page shows them); ``seed``: every draw and the
    fine-tuning. The defaults, 4 rounds of 300 images, are the shortcuts benchmark's
    (docs/design-notes.md, "CFKD's default rounds"). ``counterexamples``: each CE the teacher
    kept at its source also gives two training images without asking anyone
    (:func:`~leapfactual.audit.cfkd.counterexamples`). ``until_stable``:
    ``rounds`` is the most rounds, and CFKD stops after a round in which the model's reliance
    on the candidates it relied on fell by less than :data:`STABLE` (or reached 0).
    """

    rounds: int = 4
    per_round: int = 300
    epochs: int = 2
    lr: float = 5e-4
    batch: int = 64
    augment: int = 2
    targets: str = "random"
    replay: int | None = None
    reliable: bool = False
    valid_only: bool = True
    minimal: bool = True
    needed: bool = False
    seed: int = 0
    until_stable: bool = False
    counterexamples: bool = True

    def __post_init__(self) -> None:
        for name in ("rounds", "per_round", "epochs", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CFKD {name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"CFKD lr must be positive, got {self.lr}")
        if self.augment < 0:
            raise ValueError(f"CFKD augment must be >= 0 pixels, got {self.augment}")
        if self.targets not in ("random", "all-others"):
            raise ValueError(f"CFKD targets must be 'random' or 'all-others', got {self.targets!r}")
        if self.replay is not None and self.replay < 0:
            raise ValueError(f"CFKD replay must be >= 0 or None, got {self.replay}")
        for flag in ("until_stable", "counterexamples"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"CFKD {flag} must be True or False, got {getattr(self, flag)!r}")


__all__ = ["AUTO_ROUNDS", "STABLE", "CFKDSettings", "parse_rounds"]
