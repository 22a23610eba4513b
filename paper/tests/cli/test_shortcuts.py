"""The ``shortcuts`` command passes its options to the benchmark."""


def test_shortcuts_passes_options_to_the_benchmark(cli, monkeypatch, tmp_path) -> None:
    seen = {}

    def run(cfg, folder, log):
        seen.update(cfg=cfg, folder=folder)
        from paper.experiments.shortcuts import ShortcutsResult

        return ShortcutsResult(cfg, [], 60.0)

    def write(result, stem, command):
        seen.update(stem=stem, command=command)
        return stem.with_suffix(".md")

    monkeypatch.setattr("paper.experiments.shortcuts.run_shortcuts", run)
    monkeypatch.setattr("paper.experiments.shortcuts.write_shortcuts_page", write)
    monkeypatch.setattr("paper.experiments.shortcuts.targets", lambda r: [("t", "1 of 1", True)])
    args = ["--seeds", "4", "--limit", "7", "--rounds", "2", "--per-round", "9"]
    done = cli("shortcuts", "--out", str(tmp_path / "s"), *args)
    assert done.returncode == 0, done.stderr
    cfg = seen["cfg"]
    assert cfg.seeds == (4,) and cfg.audit_limit == 7
    assert cfg.cfkd.rounds == 2 and cfg.cfkd.per_round == 9
    assert seen["folder"] == f"{tmp_path / 's'}.parts" and seen["stem"] == tmp_path / "s"
    assert "met      t: 1 of 1" in done.stdout
    defaults = cli("shortcuts", "--out", str(tmp_path / "d"))
    assert defaults.returncode == 0 and seen["cfg"].cfkd.rounds == 4  # repair's default
    bad = cli("shortcuts", "--seeds", "1,1")
    assert bad.returncode == 2 and "seed" in bad.stderr
