"""The trust grid at a reduced size: real runs of tiny colour shapes with tiny models."""

from dataclasses import replace

import torch

from leapfactual.pipeline import FitSettings, Verdict
from paper.experiments.trust import (
    CASES,
    DEMO,
    GRID,
    Case,
    Judge,
    TrustConfig,
    TrustResult,
    TrustRow,
    case_by_name,
    case_data,
    case_fit,
    resumed_note,
    run_case,
    run_trust,
    same_classifier,
    seed_line,
    targets,
    unmet_line,
    weak_judges,
    write_trust_page,
)


def test_a_reduced_grid_writes_verdicts_judge_validity_and_targets(
    make_tiny_config, tmp_path
) -> None:
    config = TrustConfig(
        cases=("shapes-32", "shapes-32-conv"),
        limit=8,
        shapes_images=96,
        judge_images=96,
        judge_epochs=1,
        judge_min_steps=0,
        judge_width=8,
        base=make_tiny_config(),
    )
    result = run_trust(tmp_path / "runs", config)
    rows = {r.case.name: r for r in result.rows}
    assert list(rows) == ["shapes-32", "shapes-32-conv"]
    assert rows["shapes-32"].shared is None and rows["shapes-32-conv"].shared == "shapes-32"
    for row in result.rows:  # a VAE of one epoch on 76 images: a few steps
        assert row.verdict is not None and row.verdict.level == "untrusted"
        assert "training_steps" in {c.name for c in row.verdict.reasons}
        assert 0 <= row.judge_validity <= 1 and 0 <= row.robust_validity <= row.validity
        assert 0 <= row.reliable_judge_validity <= 1  # the defaults make a reliable CE
    chance = run_case(  # shuffled labels: stopped at the chance check, or not trusted
        Case("chance-shapes", "shuffled", data="shapes", labels="shuffled"),
        tmp_path / "runs",
        config,
        result.judges,
    )
    assert chance.stopped is not None or chance.verdict.level != "trusted"  # type: ignore[union-attr]
    assert chance.shared is None  # other labels: its own classifier
    met = targets(result)
    nothing = {"trusted_below_floor": [], "good": 0, "good_untrusted": []}
    assert met == {"plain CE": nothing, "reliable CE": nothing, "demo": None}
    page = write_trust_page(result, tmp_path / "trust", "python -m paper trust --cases ...")
    text = page.read_text()
    assert "| shapes-32-conv |" in text and "| shapes-32 |" in text
    assert (
        "| run | verdict | judge validity | judge validity, reliable CE | validity | robust "
        "validity | what is weakened |" in text
    )
    assert "about +-0.18); the models at half the default widths but in no case" in text
    assert "- Limits: 2 runs" in text and "Judges' held-out accuracy: shapes 32 px" in text
    assert "The agreement term" not in text  # no pair with and without it
    assert "The demo run (demo): None (target: trusted): **not met**" in text
    assert "target: none): **met**" in text and "**not tested** (no run that good)" in text
    first = text.split("\n- ")[3]  # after the command and data lines: the unmet targets first
    assert first.startswith(
        "Targets not met: the demo run is not trusted; the false-alarm target is not tested on "
        "the plain CE (no run reached judge validity 0.9 with it); the false-alarm target is "
        "not tested on the reliable CE"
    )
    assert "- Runs marked trusted whose judge validity (reliable CE) is below 0.7: 0" in text
    assert "- Seed: 0 for every run" in text and "not a test on unseen runs" in text


def test_a_case_copies_a_classifier_only_from_a_run_that_trains_the_same_one(
    make_tiny_config,
) -> None:
    config = TrustConfig(base=make_tiny_config(), shapes_images=8)

    def fit(name: str) -> tuple[Case, FitSettings]:
        case = case_by_name(name)
        return case, case_fit(case, config, case_data(case, config))

    demo = fit("demo")
    for name, same in [
        ("vae-1-epoch", True),
        ("agreement", True),
        ("flow-2-epochs", True),
        ("small", False),  # other images
        ("chance", False),  # other labels
        ("shapes-32", False),
    ]:
        assert same_classifier(*fit(name), *demo) is same, name
    assert same_classifier(*fit("shapes-32-conv"), *fit("shapes-32"))
    assert not same_classifier(*fit("shapes-48-small-work"), *fit("shapes-32"))
    shapes = fit("shapes-32")[1]
    assert shapes.vae.work_size == 16 and fit("shapes-32-conv")[1].vae.work_size is None


def test_every_case_has_a_unique_name_and_stops_on_an_unknown_one(cli) -> None:
    assert len({c.name for c in CASES}) == len(CASES) and case_by_name("demo").what
    done = cli("trust", "--cases", "demo,nope")
    assert done.returncode == 2 and "unknown case 'nope'" in done.stderr
    assert replace(TrustConfig(), limit=3).limit == 3
    assert set(GRID) <= {c.name for c in CASES}
    described = cli("trust", "--help").stdout
    assert all(c.name in described for c in CASES)


def test_a_weak_judge_is_named_on_the_page_and_a_strong_one_is_not() -> None:
    strong, weak = Judge(torch.nn.Identity(), 0.95), Judge(torch.nn.Identity(), 0.59)
    result = TrustResult(TrustConfig(), judges={("digits", 28): strong, ("shapes", 32): weak})
    (line,) = weak_judges(result)
    assert line.startswith("Warning: the judge of shapes 32 px is right on only 0.59")
    assert weak_judges(TrustResult(TrustConfig(), judges={("digits", 28): strong})) == []


def test_the_seed_line_says_whether_the_thresholds_saw_the_seed() -> None:
    assert "never on this one" in seed_line(2) and "seeds 0 and 1 only" in seed_line(2)
    assert "not a test on unseen runs" in seed_line(1)
    assert "demo-defaults row is not blind" in seed_line(2) and seed_line(3).endswith("this one.")


def test_the_first_line_names_each_target_not_met_and_only_those() -> None:
    both = {"plain CE": True, "reliable CE": True}
    assert unmet_line(both, dict(both), True).startswith("Every target below is met")
    line = unmet_line({"plain CE": False, "reliable CE": True}, {"plain CE": None}, True)
    assert line == (
        "Targets not met: a run marked trusted has a judge validity below 0.7 (plain CE); the "
        "false-alarm target is not tested on the plain CE (no run reached judge validity 0.9 "
        "with it)."
    )
    assert unmet_line(both, {"plain CE": None, "reliable CE": False}, False) == (
        "Targets not met: too many runs of judge validity >= 0.9 are marked untrusted "
        "(reliable CE); the demo run is not trusted; the false-alarm target is not tested on "
        "the plain CE (no run reached judge validity 0.9 with it)."
    )


def test_the_demo_target_is_measured_on_the_demo_exactly_when_the_grid_has_it() -> None:
    def row(name: str, level: str) -> TrustRow:
        verdict = Verdict(level, ())
        return TrustRow(case_by_name(name), None, verdict, 1.0, 1.0, 0.95, {}, {}, 0.0)

    result = TrustResult(TrustConfig(), rows=[row("demo", "caution"), row(DEMO, "trusted")])
    met = targets(result)
    assert met["demo"] == "trusted" and met["plain CE"]["good"] == 2
    assert met["reliable CE"]["good"] == 0  # rows without a reliable CE count in neither
    result.rows[0].reliable_judge_validity = 0.5  # a cautioned run: below the floor, no matter
    result.rows[1].reliable_judge_validity = 0.6  # trusted and below the floor: counted
    assert targets(result)["reliable CE"]["trusted_below_floor"] == [DEMO]
    assert resumed_note(result) == ""
    result.rows[0].resumed = True
    assert resumed_note(result).endswith("nor the total): demo.")
    assert (
        case_fit(
            case_by_name(DEMO), TrustConfig(), case_data(case_by_name("demo"), TrustConfig())
        ).vae.width
        is None
    )
