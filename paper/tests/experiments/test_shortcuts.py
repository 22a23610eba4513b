import json
from dataclasses import replace

import pytest
import torch

from leapfactual.audit import CFKDSettings, Finding
from leapfactual.data import confounded_digits, load_dataset
from leapfactual.explain import Explanation
from leapfactual.report import NOTE
from paper.experiments.shortcuts import (
    ShortcutsConfig,
    ShortcutsResult,
    colour_needed,
    flips,
    run_shortcuts,
    targets,
    tint_verdict,
    write_shortcuts_page,
)


class Row:
    """A reliance row as the audit gives it (``finding``, ``values["model"]``)."""

    def __init__(self, klass: int, place: str, value: float) -> None:
        self.finding = Finding(klass, str(klass), "toward", place, 0.5, 10, True)
        self.values = {"model": value}


def test_the_tint_verdict_needs_a_relied_on_global_candidate_toward_the_class() -> None:
    reliant, listed = tint_verdict([Row(8, "global: colour", 0.6), Row(3, "r0c0", 0.9)], 8)
    assert reliant and listed == "global: colour toward 8: 60%; cell r0c0 toward 3: 90%"
    assert not tint_verdict([Row(8, "global: colour", 0.1)], 8)[0]  # listed, not relied on
    assert not tint_verdict([Row(8, "r0c0", 0.9)], 8)[0]  # a cell is no tint
    assert not tint_verdict([Row(7, "global: brightness", 0.9)], 8)[0]  # another class
    assert tint_verdict([], 8) == (False, "no candidate")


def test_flips_count_predictions_the_nuisance_changes() -> None:
    base = load_dataset("mnist5k")
    task = confounded_digits(base.subset(torch.arange(200)), seed=0)
    patch = task.nuisance_mask(task.test_clean.images[:1])[0, 0]

    def patch_model(x: torch.Tensor) -> torch.Tensor:  # class 8 iff the patch is there
        on = x[:, 0][:, patch].mean(1) > 0.5
        return torch.nn.functional.one_hot(torch.where(on, 8, 0), 10).float()

    assert flips(patch_model, task) == 1.0
    assert flips(lambda x: torch.zeros(len(x), 10), task) == 0.0


def row(seed: int, flips_after: float, refused: bool, apart: bool, agrees: bool) -> dict:
    return {
        "seed": seed, "accuracy": 0.6, "flips": 0.8, "test_images": 1000, "p_train": 0.95,
        "patch_size": 5, "oracle_refused": refused, "oracle_message": "the teacher | shares",
        "verdict": "repaired", "reason": "reliance below 20%", "labels": 40, "rounds": 3,
        "accuracy_after": 0.9, "flips_after": flips_after, "cfkd_seconds": 12.0,
        "reliance": [{"label": "cell r0c0", "name": "8", "before": 0.4, "after_same": 0.05,
                      "after_own": 0.1, "after": 0.1, "teacher": 0.0}],
        "reaudit_agrees": agrees, "reaudit_command": "leapfactual audit R --out DIR",
        "tint_reliant_flagged": apart, "tint_reliant_listed": "global: colour toward 8: 70%",
        "tint_reliant_flips": 0.9, "tint_blind_flagged": False, "tint_blind_listed": "none",
        "tint_blind_flips": 0.01, "tint_told_apart": apart, "seconds": 60.0,
        "tint_reliant_p_ces": 0.9, "tint_reliant_p_greyed": 0.1, "tint_blind_p_ces": 0.8,
        "tint_blind_p_greyed": None, "verdict_patch": "trusted",
        "verdict_tint_reliant": "caution (flow_samples)", "verdict_tint_blind": "trusted",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "met"),
    [
        (
            [
                row(0, 0.05, True, True, True),
                row(1, 0.08, True, True, True),
                row(2, 0.3, True, True, True),
            ],
            [True, True, True, True],
        ),
        (
            [
                row(0, 0.05, True, True, True),
                row(1, 0.18, False, False, False),
                row(2, 0.3, True, True, True),
            ],
            [False, False, False, False],
        ),
    ],
)
def test_the_targets_are_computed_from_the_rows(rows, met) -> None:
    got = targets(ShortcutsResult(ShortcutsConfig(), rows, 1.0))
    assert [ok for _, _, ok in got] == met
    assert got[0][0].endswith("in at least 2 of 3 seeds")


def test_the_page_leads_with_its_limits_and_states_each_target(tmp_path) -> None:
    rows = [row(0, 0.05, True, True, True), row(1, 0.18, True, False, True)]
    result = ShortcutsResult(ShortcutsConfig(seeds=(0, 1)), rows, 120.0)
    page = write_shortcuts_page(result, tmp_path / "sc", "python -m paper shortcuts --out x")
    text = page.read_text()
    title = "# Shortcuts: auditing and repairing a confounded classifier"
    assert text.startswith(f"{title}\n\n{NOTE}\n\n- Command: `python -m paper shortcuts --out x`")
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[:2] == ["## What limits these results", "## Targets"]
    limits = text.split("## What limits these results\n\n")[1]
    assert limits.startswith(
        "- Run verdicts (the library's checks of each run's codec, classifier, flow and "
        "training): 4 of 6 runs trusted, 2 caution (flow_samples in 2). The benchmark trains "
        "its models without the library's minimum of optimiser steps (sized for this CPU); the "
        "tables name each run's verdict.\n"
        "- **Not met**: flips below 10% after a default repair with a clean teacher in at "
        "least 2 of 2 seeds: 1 of 2 (0.050, 0.180).\n"
        "- **Not met**: the tint model told apart from a tint-blind one in every seed: 1 of 2 "
        "(seed 1: the tint model's audit listed global: colour toward 8: 70%; a model relies on "
        "a candidate from 20%).\n- 2 seeds,"
    )  # the runs' own verdicts lead the page, then what is not met
    met = [row(s, 0.05, True, True, True) for s in (0, 1, 2)]
    quiet = write_shortcuts_page(ShortcutsResult(ShortcutsConfig(), met, 1.0), tmp_path / "ok", "c")
    assert "Not met" not in quiet.read_text()
    assert "| the confounded oracle refused in every seed | 2 of 2 | met |" in text
    assert (
        "| the tint model told apart from a tint-blind one in every seed | 1 of 2 | not met |"
        in text
    )
    assert "the teacher / shares" in text
    assert (
        "| 0.900 -> 0.100 |" in text and "| 0.800 -> - |" in text
    )  # a message's bar does not break the table
    assert (  # verdicts first; a row made before the candidates had directions: toward
        "| 0 | repaired | yes | trusted | cell r0c0 toward 8 | 40% | - | 5% | 10% |" in text
    )
    assert "| tint-reliant | caution (flow_samples) |" in text
    assert (
        "| seed | told apart | tint model: verdict | tint model: run verdict | tint model: "
        "candidates (reliance) |" in text
    )
    assert json.loads((tmp_path / "sc.json").read_text())["rows"][1]["flips_after"] == 0.18


def test_the_page_names_the_seeds_a_setting_was_chosen_after_seeing(tmp_path) -> None:
    rows = [row(s, 0.05, True, True, True) for s in (0, 12)]
    page = write_shortcuts_page(ShortcutsResult(ShortcutsConfig(seeds=(0, 12)), rows, 1.0),
                                tmp_path / "sc", "c")  # fmt: skip
    line = next(x for x in page.read_text().splitlines() if "not blind" in x)
    assert line.startswith("- Seed 0 is not blind to choices made after seeing them: the audit")
    assert "the CE's own change" in line and "CFKD's default of 4 rounds" in line
    assert "CFKD's counterexamples" in line and "after seeing seeds 0-11" in line
    assert line.endswith("Seed 12 was first run after all were fixed.")
    fresh = [row(s, 0.05, True, True, True) for s in (12, 13)]
    blind = write_shortcuts_page(ShortcutsResult(ShortcutsConfig(seeds=(12, 13)), fresh, 1.0),
                                 tmp_path / "fresh", "c")  # fmt: skip
    assert "not blind" not in blind.read_text()


def test_a_repair_short_of_repaired_is_named_in_the_limits(tmp_path) -> None:
    rows = [row(0, 0.05, True, True, True), row(1, 0.05, True, True, True)]
    rows[1].update(verdict="partly", reason="reliance fell but not below 20% on all (x)")
    page = write_shortcuts_page(ShortcutsResult(ShortcutsConfig(seeds=(0, 1)), rows, 1.0),
                                tmp_path / "sc", "c")  # fmt: skip
    limits = page.read_text().split("## What limits these results")[1].split("## Targets")[0]
    assert (
        "- Seed 1: the repair's verdict is `partly`: reliance fell but not below 20% on all"
        in limits
    )
    assert "Seed 0: the repair's verdict" not in limits


def test_the_config_refuses_no_seeds_and_no_images() -> None:
    with pytest.raises(ValueError, match="at least one seed"):
        ShortcutsConfig(seeds=())
    with pytest.raises(ValueError, match="audit_limit must be positive"):
        ShortcutsConfig(audit_limit=0)


def test_colour_needed_greys_the_ces_toward_the_class() -> None:
    def red_model(x: torch.Tensor) -> torch.Tensor:  # class 8 iff red exceeds green
        red = (x[:, 0] - x[:, 1]).flatten(1).mean(1) > 0.05
        return torch.nn.functional.one_hot(torch.where(red, 8, 0), 10).float()

    x = torch.rand(4, 3, 8, 8)
    x_cf = x.clone()
    x_cf[:, 1:] *= 0.2  # tinted red
    target = torch.tensor([8, 8, 8, 3])
    probs = red_model(x).softmax(1)
    exp = Explanation(method="by hand", x=x, x_cf=x_cf, source=torch.zeros(4, dtype=torch.long),
                      target=target, probs=probs, probs_cf=red_model(x_cf).softmax(1))  # fmt: skip
    with_colour, greyed = colour_needed(red_model, exp, 8)
    assert with_colour is not None and greyed is not None and with_colour > greyed
    assert colour_needed(red_model, exp, 5) == (None, None)


def test_the_whole_benchmark_runs_end_to_end_at_a_tiny_size(tmp_path, make_tiny_config) -> None:
    """One seed on the 8x8 digits (about 25 s of CPU; on mnist5k it took about 60 s), tiny
    models, one CFKD round of a few images, audits of one image: every step runs, the page is
    written from the rows, and a second call reuses the seed's row. The numbers of models this
    small mean nothing; the plumbing does. At this size the rule teacher may find no candidate
    the model relies on; the repair and its re-audit are then covered by the repair's own
    command-line test (tests/cli/test_audit_repair.py)."""
    cfg = ShortcutsConfig(
        base="digits", seeds=(0,), audit_limit=1, models=make_tiny_config(),
        cfkd=CFKDSettings(rounds=1, per_round=4, epochs=1, targets="random"),
    )  # fmt: skip
    parts = tmp_path / "sc.parts"
    logs: list[str] = []
    result = run_shortcuts(cfg, parts, log=logs.append)
    (got,) = result.rows
    steps = ["patch run", "default teacher", "rule teacher", "tint-reliant run", "tint-blind run"]
    assert [any(step in m for m in logs) for step in steps] == [True] * len(steps)
    assert isinstance(got["oracle_refused"], bool) and got["oracle_message"]
    assert got["tint_told_apart"] == (got["tint_reliant_flagged"] and not got["tint_blind_flagged"])
    assert 0 <= got["tint_reliant_flips"] <= 1 and 0 <= got["tint_blind_flips"] <= 1
    page = write_shortcuts_page(result, tmp_path / "sc", "python -m paper shortcuts --out x")
    text = page.read_text()
    assert "## Targets" in text and "## The tint: a non-local shortcut" in text
    assert f"- seed 0: {got['reason']}" in text
    if got["verdict"] == "not run":  # the rule teacher had nothing to ignore: the page says so
        assert "no shortcut candidate to ignore" in got["reason"]
    else:
        assert got["reaudit_agrees"] is True and got["rounds"] == 1
    again = run_shortcuts(cfg, parts, log=logs.append)
    assert again.rows == result.rows and logs[-1] == f"seed 0: already done in {parts / 'seed0'}"
    (parts / "seed1").mkdir()  # a seed's row is kept whatever the other seeds: no refit of seed 0
    (parts / "seed1" / "row.json").write_text((parts / "seed0" / "row.json").read_text())
    both = run_shortcuts(replace(cfg, seeds=(0, 1)), parts, log=logs.append)
    assert both.rows == result.rows * 2 and logs[-1] == f"seed 1: already done in {parts / 'seed1'}"


def test_the_page_names_a_missed_shortcut_and_the_re_audit_under_its_own_parts(tmp_path) -> None:
    made = row(0, 0.05, True, True, True)
    made["reaudit_command"] = "leapfactual audit /elsewhere/x.parts/seed0/repair/run --out DIR"
    missed = {**row(1, 0.05, False, True, True), "verdict": "not run", "flips": 0.855}
    result = ShortcutsResult(ShortcutsConfig(seeds=(0, 1)), [made, missed], 1.0)
    text = write_shortcuts_page(result, tmp_path / "sc", "c").read_text()
    assert (
        "- Seed 1: the audit found no shortcut candidate the model relies on, so neither the "
        "teacher check nor the repair ran, though painting the patch changes 85.5% of its "
        "predictions: a shortcut the audit missed." in text
    )
    assert "Seed 0:" not in text.split("## Targets")[0]  # a seed whose repair ran: no line
    assert f"`leapfactual audit {tmp_path / 'sc'}.parts/seed0/repair/run --out DIR`" in text
    assert "time per seed, when its row was made: 1.0 min, 1.0 min (2.0 min in all;" in text
