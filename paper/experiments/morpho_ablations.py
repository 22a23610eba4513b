"""What decides the Morpho-MNIST ordering: the paper's three methods repeated with one part of
the set-up changed at a time (the codec, the target draw, the flow's training budget), on the
same seeds and held-out digits as the bench's main table.

Each :class:`Ablation` is a list of :class:`Variant` s whose first is the bench's own set-up. A
variant changes model settings (``--set`` keys of the ``vae``, ``flow``, ``classifier``,
``oracle`` or ``cvae`` tables) and / or the target draw. Its runs live in
``RUN/ablations/ABLATION-K/seed-S``; a variant copies from the bench's run of that seed the
stages its settings cannot change (same seed and settings: the same weights), so only what it
changes is trained. A variant that changes only the flow explains only with LeapFactual and
takes the other methods' columns from the bench's set-up (their CEs do not use the flow).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from leapfactual.pipeline import STAGES, FitSettings, Run, override
from paper.bench import Table
from paper.bench.seeds import SeedTables, joined, seed_directory
from paper.experiments._shared import share_stages
from paper.experiments.morphomnist import (
    CGM,
    FLOOR,
    LEAP,
    LEAP_RELIABLE,
    OPT,
    TARGET_DRAWS,
    MorphoBenchConfig,
    least_counts,
    morpho_table,
    verdict_counts,
)
from paper.tables import markdown_table

REFITS = {
    "vae": ("vae", "flow"),
    "flow": ("flow",),
    "classifier": ("classifier", "vae", "flow"),
    "oracle": ("oracle",),
    "cvae": ("cvae",),
}
"""The stages a change to each settings table trains again (the flow models the VAE's latents
conditioned on the classifier; the VAE's agreement term reads the classifier)."""
PSNR = "VAE held-out PSNR (dB)"
"""A row of each ablation table (in the floor's column): the codec's quality in that run."""
METHODS = ("opt", "cgm", "leapfactual")
"""The paper's three methods: the ablations' columns (LeapFactual with its reliable CE)."""


@dataclass(frozen=True)
class Variant:
    """One set-up: ``sets`` (``--set`` assignments on top of the bench's) and the target draw."""

    name: str
    sets: tuple[tuple[str, str], ...] = ()
    targets: str = "other"

    def __post_init__(self) -> None:
        if self.targets not in TARGET_DRAWS:
            raise ValueError(f"unknown target draw {self.targets!r}; choose one of {TARGET_DRAWS}")
        for key, _ in self.sets:
            if key.split(".")[0] not in REFITS or "." not in key:
                raise ValueError(
                    f"an ablation changes model settings only ({', '.join(REFITS)} tables), "
                    f"not {key!r}"
                )

    @property
    def refits(self) -> frozenset[str]:
        """The stages this variant trains anew."""
        return frozenset(s for key, _ in self.sets for s in REFITS[key.split(".")[0]])

    @property
    def flow_only(self) -> bool:
        """Only the flow changes: the other methods' CEs are the bench set-up's."""
        return self.refits == {"flow"} and self.targets == "other"

    def setting(self) -> str:
        """What the variant sets, as a reader would type it."""
        parts = [f"{k}={v}" for k, v in self.sets]
        if self.targets != "other":
            parts.append(f"--targets {self.targets}")
        return ", ".join(parts) or "as the main table"


@dataclass(frozen=True)
class Ablation:
    """A question and the variants that answer it; the first variant is the bench's set-up."""

    name: str
    question: str
    variants: tuple[Variant, ...]

    def __post_init__(self) -> None:
        first = self.variants[0] if self.variants else None
        if first is None or first.sets or first.targets != "other" or len(self.variants) < 2:
            raise ValueError(
                f"ablation {self.name!r}: the first variant is the bench's set-up (no settings, "
                "other-class targets), followed by at least one change"
            )
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"ablation {self.name!r}: variant names repeat: {names}")


BENCH = Variant("the bench's")
ABLATIONS = {
    "codec": Ablation(
        "codec",
        "Does the codec's quality decide the ordering? Every latent method's CE is decoded by "
        "the same VAE, so a weaker codec adds the same reconstruction change to each.",
        (
            BENCH,
            Variant("conv VAE, 5 epochs", (("vae.epochs", "5"), ("vae.min_steps", "0"))),
            Variant("residual VAE", (("vae.kind", "resnet"),)),
        ),
    ),
    "targets": Ablation(
        "targets",
        "Does the target draw decide it? The reference draws targets uniformly, the source "
        "class included; those CEs are valid with almost no change.",
        (BENCH, Variant("uniform, source included", targets="uniform")),
    ),
    "flow": Ablation(
        "flow",
        "Does the flow's training budget decide it? Only LeapFactual's CEs use the flow. The "
        "bench's flow trains at least 3,000 steps (the paper's 30 epochs on 60,000 digits "
        "are about 7,000 steps; on 4,000 digits they are 480).",
        (
            BENCH,
            Variant(
                "flow, 30 epochs only (480 steps)",
                (("flow.epochs", "30"), ("flow.min_steps", "0")),
            ),
            Variant("flow, 9,000 steps", (("flow.min_steps", "9000"),)),
        ),
    ),
}
"""The ablations ``python -m paper bench --ablations`` can run, by name."""


def pick_ablations(names: Sequence[str]) -> tuple[Ablation, ...]:
    """The ablations called ``names`` (checked before any work)."""
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        raise ValueError(f"unknown ablation {unknown[0]!r}; choose from {', '.join(ABLATIONS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"ablations repeat: {', '.join(names)}")
    return tuple(ABLATIONS[n] for n in names)


@dataclass
class AblationResult:
    """Each variant's table over the seeds and its runs' verdicts counted over the seeds
    (:func:`~paper.experiments.morphomnist.verdict_counts`), by ablation name then variant
    name; the digits explained per seed; the time taken."""

    ablations: tuple[Ablation, ...]
    tables: dict[str, dict[str, SeedTables]]
    verdicts: dict[str, dict[str, str]]
    limit: int
    seconds: float


def run_ablations(
    run_dir: str | Path,
    fit: FitSettings,
    config: MorphoBenchConfig,
    ablations: Sequence[Ablation],
    limit: int,
    progress: bool = False,
    device: str | torch.device | None = None,
) -> AblationResult:
    """Every variant of ``ablations`` at each of ``config.seeds``, explaining the first
    ``limit`` held-out digits with the paper's three methods. The bench's run of each seed
    (``run_dir/seed-S``, fitted by :func:`~paper.experiments.morphomnist.run_morpho_bench`)
    is reused; the bench set-up's table is computed once per seed and shared."""
    start = time.perf_counter()
    root = Path(run_dir)
    base = replace(
        config, limit=limit, methods=METHODS, reliable=("leapfactual",), other_flow=False
    )
    tables: dict[str, dict[str, list[Table]]] = {a.name: {} for a in ablations}
    runs: dict[str, dict[str, list[Run]]] = {a.name: {} for a in ablations}
    for seed in config.seeds:
        seed_fit = replace(fit, seed=seed)
        main = seed_directory(root, seed)
        say = f"ablation: seed {seed}, " if progress else None
        bench, bench_run = variant_table(BENCH, main, seed_fit, base, None, say, device)
        done: dict[tuple[Path, str], tuple[Table, Run]] = {(main, "other"): (bench, bench_run)}
        for ablation in ablations:
            for k, variant in enumerate(ablation.variants):
                settings = override(seed_fit, dict(variant.sets))
                directory = main
                if variant.refits:
                    directory = seed_directory(root / "ablations" / f"{ablation.name}-{k}", seed)
                    keep = [s for s in STAGES if s not in variant.refits]
                    share_stages(main, directory, keep)
                key = (directory, variant.targets)
                if key not in done:
                    done[key] = variant_table(
                        variant, directory, settings, base, bench, say, device
                    )
                table, run = done[key]
                tables[ablation.name].setdefault(variant.name, []).append(table)
                runs[ablation.name].setdefault(variant.name, []).append(run)
    return AblationResult(
        tuple(ablations),
        {
            name: {v: SeedTables(config.seeds, ts) for v, ts in by_variant.items()}
            for name, by_variant in tables.items()
        },
        {
            name: {v: verdict_counts(rs) for v, rs in by_variant.items()}
            for name, by_variant in runs.items()
        },
        limit,
        time.perf_counter() - start,
    )


def variant_table(
    variant: Variant,
    directory: Path,
    fit: FitSettings,
    config: MorphoBenchConfig,
    bench: Table | None,
    say: str | None,
    device: str | torch.device | None,
) -> tuple[Table, Run]:
    """One variant's table at one seed and its run (in ``directory``, fitted or reused); a
    flow-only variant takes Opt-based and CGM-based from ``bench``, the bench set-up's table.
    The codec's held-out PSNR is a row of the floor's column. ``say``: progress prefix."""
    if say is not None:
        print(f"{say}{variant.name}", flush=True)
    if variant.flow_only and bench is not None:
        chosen = replace(config, methods=("leapfactual",))
        own, run = morpho_table(directory, fit, chosen, say is not None, device)
        own = with_columns(own, bench, (OPT, CGM))
    else:
        chosen = replace(config, targets=variant.targets)
        own, run = morpho_table(directory, fit, chosen, say is not None, device)
    own.set(PSNR, FLOOR, float(run.summary.get("vae_test_psnr", math.nan)))
    return own, run


def with_columns(table: Table, donor: Table, columns: Sequence[str]) -> Table:
    """``table`` with ``donor``'s ``columns`` (every row) put first, the floor kept last."""
    own = [c for c in table.columns if c != FLOOR]
    merged = Table([*columns, *own, FLOOR], spread=table.spread)
    for row in dict.fromkeys([*donor.rows, *table.rows]):
        for column in merged.columns:
            source = donor if column in columns else table
            cell = source.get(row, column)
            if cell is not None:
                merged.set(row, column, cell)
    return merged


def ablation_table(
    ablation: Ablation, runs: Mapping[str, SeedTables], verdicts: Mapping[str, str]
) -> list[str]:
    """A Markdown table, one row per variant: its name, where LeapFactual changes the digit
    least, then accuracy, oracle validity, thickness change, the codec, the runs' verdicts
    (``verdicts``, by variant) and what it sets."""
    rows = []
    for variant in ablation.variants:
        r = runs[variant.name]
        wins, ties = least_counts(r)
        rows.append(
            {
                "set-up": variant.name,
                "LeapFactual least on (of 6)": str(len(wins)),
                "tied for least on": str(len(ties)),
                "accuracy to target: LeapFactual": r.cell("accuracy to target", LEAP),
                "accuracy: Opt-based": r.cell("accuracy to target", OPT),
                "accuracy: CGM-based": r.cell("accuracy to target", CGM),
                "accuracy: LeapFactual reliable": r.cell("accuracy to target", LEAP_RELIABLE),
                "oracle validity: LeapFactual": r.cell("oracle validity", LEAP),
                "thickness change: LeapFactual": r.cell("thickness", LEAP),
                "thickness: Opt-based": r.cell("thickness", OPT),
                "thickness: CGM-based": r.cell("thickness", CGM),
                "thickness: floor (reconstruction)": r.cell("thickness", FLOOR),
                "VAE PSNR (dB)": r.cell(PSNR, FLOOR),
                "run verdicts": verdicts[variant.name],
                "what it sets": f"`{variant.setting()}`"
                if variant is not ablation.variants[0]
                else "–",
            }
        )
    return markdown_table(rows)


def least_by_variant(ablation: Ablation, runs: Mapping[str, SeedTables]) -> dict[str, int]:
    """Per variant, the number of measurements where LeapFactual changes the digit least
    beyond the interval (:func:`~paper.experiments.morphomnist.least_counts`)."""
    return {v.name: len(least_counts(runs[v.name])[0]) for v in ablation.variants}


def ablation_verdicts(ablation: Ablation, runs: Mapping[str, SeedTables]) -> list[str]:
    """Sentences generated from the numbers: per variant, the measurements where LeapFactual
    changes the digit least (and the seeds where it is least), and whether the count moves."""
    out = []
    for variant in ablation.variants:
        r = runs[variant.name]
        wins, ties = least_counts(r)
        seeds = len(r.seeds)
        listed = ", ".join(
            f"{m} ({r.firsts(m, LEAP, (LEAP, OPT, CGM), higher=False)} of {seeds})"
            for m in wins + ties
        )
        accuracy = [r.diff("accuracy to target", LEAP, b) for b in (OPT, CGM)]
        above = [d.b for d in accuracy if d.better]
        out.append(
            f"{variant.name}: LeapFactual changes the digit least on {len(wins)} of 6 "
            f"measurements and ties for least on {len(ties)} ({listed or 'none'}; in brackets "
            "the seeds where it is least); its accuracy to target "
            f"{r.cell('accuracy to target', LEAP)} is above "
            f"{joined(above) if above else 'neither rival'} beyond the interval."
        )
    out.append(moved_sentence(ablation, least_by_variant(ablation, runs)))
    return out


def moved(ablation: Ablation, counts: Mapping[str, int]) -> list[str]:
    """The variants of ``ablation`` whose count in ``counts`` differs from the bench's."""
    base = ablation.variants[0].name
    return [v for v in counts if v != base and counts[v] != counts[base]]


def moved_sentence(ablation: Ablation, counts: Mapping[str, int]) -> str:
    """Whether the count of measurements where LeapFactual is least moves with ``ablation``."""
    base = ablation.variants[0].name
    changed = moved(ablation, counts)
    return (
        f"The count of measurements where LeapFactual is least moves from {counts[base]} "
        + (
            "with " + joined([f"{counts[v]} ({v})" for v in changed])
            if changed
            else "with none of the changes"
        )
        + (": this part of the set-up moves" if changed else ": by this measure it does not decide")
        + " the ordering."
    )


def ablation_reasons(result: AblationResult) -> str:
    """One sentence for the page's "where we differ": which parts of the set-up move the
    count of measurements where LeapFactual changes the digit least, and which do not."""
    moves, still = [], []
    for ablation in result.ablations:
        counts = least_by_variant(ablation, result.tables[ablation.name])
        base = ablation.variants[0].name
        changed = [f"{counts[v]} with {v}" for v in moved(ablation, counts)]
        if changed:
            moves.append(f"the {ablation.name} ({counts[base]} at the bench's, {joined(changed)})")
        else:
            still.append(f"the {ablation.name}")
    seeds = len(result.tables[result.ablations[0].name][BENCH.name].seeds)
    return (
        f"What decides the ordering (the ablations above, {seeds} seeds, the first "
        f"{result.limit} held-out digits): the count of measurements where LeapFactual changes "
        "the digit least beyond the interval moves with "
        + (joined(moves) if moves else "none of the parts changed")
        + (f"; it does not move with {joined(still)}" if still else "")
        + "."
    )


def ablation_sections(result: AblationResult) -> list[str]:
    """The page's lines on the ablations: each question, its table and its verdicts."""
    lines = [
        f"Each ablation explains the first {result.limit} held-out digits of every seed with "
        "the paper's three methods, changing one part of the set-up at a time; the first row "
        "is the bench's own set-up on those digits. Cells are means over the seeds ± the "
        "half-width of their 95 % interval; counts of measurements use the same ties as the "
        "main table. Runs that only change the flow keep the Opt-based and CGM-based CEs of "
        "the bench's set-up (they do not use the flow); runs that change the codec train the "
        "VAE and flow anew and keep the classifier, oracle and CVAE.",
        "",
    ]
    for ablation in result.ablations:
        runs = result.tables[ablation.name]
        lines += [f"**{ablation.name}.** {ablation.question}", ""]
        lines += ablation_table(ablation, runs, result.verdicts[ablation.name])
        lines += ["", *(f"- {s}" for s in ablation_verdicts(ablation, runs)), ""]
    return lines
