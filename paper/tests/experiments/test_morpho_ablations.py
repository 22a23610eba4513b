import shutil

import pytest

from leapfactual.pipeline import STAGES, FitSettings, load_run, override
from paper.bench import Table
from paper.bench.seeds import SeedTables
from paper.experiments._shared import share_stages
from paper.experiments.morpho_ablations import (
    ABLATIONS,
    BENCH,
    PSNR,
    Ablation,
    AblationResult,
    Variant,
    ablation_reasons,
    ablation_sections,
    ablation_verdicts,
    pick_ablations,
    run_ablations,
)
from paper.experiments.morphomnist import (
    CGM,
    FLOOR,
    LEAP,
    LEAP_RELIABLE,
    MEASURES,
    OPT,
    MorphoBenchConfig,
    verdict_counts,
)


def test_ablations_share_what_they_do_not_change(morpho_bench, tiny_config, tmp_path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(morpho_bench[0] / "seed-0", run_dir / "seed-0")  # with its oracle and CVAE
    tiny_run = load_run(run_dir / "seed-0")
    ablations = (
        Ablation("targets", "?", (BENCH, Variant("uniform", targets="uniform"))),
        Ablation("flow", "?", (BENCH, Variant("flow, 1 epoch", (("flow.epochs", "1"),)))),
    )
    config = MorphoBenchConfig(limit=6, opt_steps=3, attack_steps=3, seeds=(0,))
    result = run_ablations(run_dir, tiny_config, config, ablations, limit=6, device="cpu")
    main, flow = run_dir / "seed-0", run_dir / "ablations" / "flow-1" / "seed-0"
    for stage in ("vae", "classifier", "oracle", "cvae"):  # copied, not trained again
        same = (main / f"{stage}.safetensors").read_bytes()
        assert (flow / f"{stage}.safetensors").read_bytes() == same
    assert (flow / "flow.safetensors").read_bytes() != (main / "flow.safetensors").read_bytes()
    assert not (run_dir / "ablations" / "targets-1").exists()  # the bench's run, other targets
    bench = result.tables["targets"]["the bench's"].tables[0]
    assert result.tables["flow"]["the bench's"].tables[0] is bench  # computed once per seed
    assert bench.columns == [OPT, CGM, LEAP, LEAP_RELIABLE, FLOOR]
    assert bench.mean(PSNR, FLOOR) == pytest.approx(tiny_run.summary["vae_test_psnr"])
    short = result.tables["flow"]["flow, 1 epoch"].tables[0]
    for row in ("accuracy to target", "thickness"):  # Opt and CGM CEs do not use the flow
        assert short.get(row, OPT) == bench.get(row, OPT)
        assert short.get(row, CGM) == bench.get(row, CGM)
    assert short.get("accuracy to target", LEAP) is not None
    uniform = result.tables["targets"]["uniform"].tables[0]
    assert uniform.mean(PSNR, FLOOR) == bench.mean(PSNR, FLOOR)
    assert uniform.get("thickness", OPT) != bench.get("thickness", OPT)  # other targets
    variant = load_run(flow)  # its copied VAE brought its optimiser steps: the verdict counts them
    assert variant.meta["vae_steps"] == tiny_run.meta["vae_steps"]
    assert result.verdicts["flow"]["flow, 1 epoch"] == verdict_counts([variant])
    assert result.verdicts["flow"]["the bench's"] == verdict_counts([tiny_run])
    lines = ablation_sections(result)
    assert any(f"| {verdict_counts([variant])} |" in line for line in lines)
    assert "first 6 held-out digits" in lines[0]
    assert any(line.startswith("| the bench's | ") and line.endswith("| – |") for line in lines)
    assert any("`flow.epochs=1`" in line for line in lines)
    assert any("`--targets uniform`" in line for line in lines)


def test_a_codec_variant_keeps_every_stage_but_the_vae_and_flow(tiny_run, tmp_path) -> None:
    (codec,) = ABLATIONS["codec"].variants[2:]
    keep = [s for s in STAGES if s not in codec.refits]
    share_stages(tiny_run.directory, tmp_path / "codec", keep)
    copied = sorted(p.name for p in (tmp_path / "codec").iterdir())
    stems = ("split", "classifier")  # the tiny run has no oracle or CVAE to copy
    assert copied == sorted(f"{s}{x}" for s in stems for x in (".json", ".safetensors"))
    (tmp_path / "codec" / "classifier.json").write_text("kept")
    share_stages(tiny_run.directory, tmp_path / "codec", keep)  # an existing run resumes
    assert (tmp_path / "codec" / "classifier.json").read_text() == "kept"


def constructed(least_thickness: bool) -> SeedTables:
    """Three seeds: LeapFactual least on thickness beyond the interval, or tied everywhere."""
    tables = []
    for k in range(3):
        table = Table([OPT, CGM, LEAP, LEAP_RELIABLE, FLOOR])
        for column in (OPT, CGM, LEAP, LEAP_RELIABLE):
            table.set("accuracy to target", column, 0.9 + 0.01 * k)
            table.set("oracle validity", column, 0.8)
            for m in MEASURES:
                low = least_thickness and column == LEAP and m == "thickness"
                table.set(m, column, (0.1 if low else 0.2) + 0.001 * k)
        table.set("thickness", FLOOR, 0.05)
        table.set(PSNR, FLOOR, 20.0 + k)
        tables.append(table)
    return SeedTables((0, 1, 2), tables)


def test_the_verdicts_say_whether_a_change_moves_the_ordering() -> None:
    ablation = Ablation("codec", "?", (BENCH, Variant("weaker", (("vae.epochs", "1"),))))
    moved = ablation_verdicts(
        ablation, {"the bench's": constructed(True), "weaker": constructed(False)}
    )
    assert moved[0].startswith("the bench's: LeapFactual changes the digit least on 1 of 6")
    assert "thickness (3 of 3)" in moved[0]
    assert moved[1].startswith("weaker: LeapFactual changes the digit least on 0 of 6")
    assert moved[-1] == (
        "The count of measurements where LeapFactual is least moves from 1 with 0 (weaker): "
        "this part of the set-up moves the ordering."
    )
    still = ablation_verdicts(
        ablation, {"the bench's": constructed(True), "weaker": constructed(True)}
    )
    assert still[-1].endswith(
        "with none of the changes: by this measure it does not decide the ordering."
    )
    flow = Ablation("flow", "?", (BENCH, Variant("shorter", (("flow.epochs", "1"),))))
    result = AblationResult(
        (ablation, flow),
        {
            "codec": {"the bench's": constructed(True), "weaker": constructed(False)},
            "flow": {"the bench's": constructed(True), "shorter": constructed(True)},
        },
        {"codec": {}, "flow": {}},
        limit=80,
        seconds=1.0,
    )
    assert ablation_reasons(result) == (
        "What decides the ordering (the ablations above, 3 seeds, the first 80 held-out "
        "digits): the count of measurements where LeapFactual changes the digit least beyond "
        "the interval moves with the codec (1 at the bench's, 0 with weaker); it does not move "
        "with the flow."
    )


def test_ablations_are_checked_before_any_work() -> None:
    assert [a.name for a in pick_ablations(["codec", "flow"])] == ["codec", "flow"]
    with pytest.raises(ValueError, match="unknown ablation 'size'; choose from codec, targets"):
        pick_ablations(["size"])
    with pytest.raises(ValueError, match="ablations repeat"):
        pick_ablations(["codec", "codec"])
    with pytest.raises(ValueError, match="model settings only"):
        Variant("seed", (("seed", "3"),))
    with pytest.raises(ValueError, match="the first variant is the bench's set-up"):
        Ablation("x", "?", (Variant("a", (("vae.epochs", "1"),)), BENCH))
    with pytest.raises(ValueError, match="the first variant is the bench's set-up"):
        Ablation("x", "?", (BENCH,))
    assert ABLATIONS["flow"].variants[1].flow_only and not ABLATIONS["codec"].variants[2].flow_only
    assert ABLATIONS["codec"].variants[2].refits == {"vae", "flow"}


def test_every_flow_variant_trains_another_number_of_steps_than_the_bench() -> None:
    bench = FitSettings(data="mnist5k").flow.epochs_for(4000)  # the bench's training digits
    steps = [
        override(FitSettings(), dict(v.sets)).flow.epochs_for(4000)
        for v in ABLATIONS["flow"].variants
    ]
    assert steps[0] == bench and len(set(steps)) == len(steps)
