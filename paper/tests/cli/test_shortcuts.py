"""The ``shortcuts`` command passes its options to the benchmark."""


def test_shortcuts_passes_options_to_the_benchmark(cli, monkeypatch, tmp_path) -> None:
    seen = {}

    def run(cfg, log, device, parts):
        seen.update(cfg=cfg, device=device, parts=parts)
        from paper.experiments.shortcuts import ShortcutsResult

        return ShortcutsResult(cfg, [], 60.0, {})

    def write(result, stem, command):
        seen.update(stem=stem, command=command)
        return stem.with_suffix(".md")

    monkeypatch.setattr("paper.experiments.shortcuts.run_shortcuts", run)
    monkeypatch.setattr("paper.experiments.shortcuts.write_shortcuts_page", write)
    args = ["--seeds", "4", "--imbalances", "1,0.5", "--limit", "7", "--rounds", "2"]
    done = cli("shortcuts", "--out", str(tmp_path / "s"), *args, "--per-round", "9", "--device",
               "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr
    cfg = seen["cfg"]
    assert cfg.seeds == (4,) and cfg.imbalances == (1.0, 0.5) and cfg.audit_limit == 7
    assert cfg.cfkd.rounds == 2 and cfg.cfkd.per_round == 9 and seen["device"] == "cpu"
    assert seen["parts"] == f"{tmp_path / 's'}.parts" and seen["stem"] == tmp_path / "s"
    bad = cli("shortcuts", "--imbalances", "1,half")
    assert bad.returncode == 2 and "imbalances must be comma-separated" in bad.stderr
