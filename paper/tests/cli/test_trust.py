"""The ``trust`` command passes its options to the grid and prints each target."""


def test_trust_passes_options_and_prints_the_targets_of_each_ce(cli, monkeypatch, tmp_path) -> None:
    from leapfactual.pipeline import Verdict
    from paper.experiments.trust import DEMO, TrustResult, TrustRow, case_by_name

    seen = {}

    def run(runs, cfg, device=None, say=None):
        seen.update(runs=runs, cfg=cfg)
        row = TrustRow(
            case_by_name(DEMO), None, Verdict("trusted", ()), 1.0, 0.9, 0.85, {}, {}, 1.0
        )
        row.reliable_judge_validity = 0.95
        return TrustResult(cfg, rows=[row], seconds=60.0)

    def write(result, stem, command):
        seen.update(stem=stem)
        return stem.with_suffix(".md")

    monkeypatch.setattr("paper.experiments.trust.run_trust", run)
    monkeypatch.setattr("paper.experiments.trust.write_trust_page", write)
    done = cli("trust", "--out", str(tmp_path / "t"), "--runs", str(tmp_path / "r"), "--seed", "2")
    assert done.returncode == 0, done.stderr
    assert seen["cfg"].seed == 2 and seen["runs"] == tmp_path / "r"
    assert "judge 0.85  judge (reliable CE) 0.95" in done.stdout
    assert "plain CE: trusted below the floor: none; good runs marked untrusted: none of 0" in (
        done.stdout
    )
    assert "reliable CE: trusted below the floor: none; good runs marked untrusted: none of 1" in (
        done.stdout
    )
    assert "demo: trusted" in done.stdout
    bad = cli("trust", "--cases", "nope")
    assert bad.returncode == 2 and "nope" in bad.stderr
