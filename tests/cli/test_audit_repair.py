import json
import shlex
import shutil
from dataclasses import replace

import torch

from leapfactual.audit import VERDICTS
from leapfactual.io import load_tensors

ROUND = ["--rounds", "1", "--per-round", "6", "--epochs", "1", "--audit-limit", "3",
         "--device", "cpu"]  # fmt: skip


def test_audit_writes_every_part_and_resumes(cli, tiny_run, tmp_path) -> None:
    out = tmp_path / "audit"
    done = cli("audit", str(tiny_run.directory), "--out", str(out), "--limit", "3")
    assert done.returncode == 0, done.stderr
    for name in ("audit.json", "explanation/explanation.safetensors", "necessity.safetensors",
                 "summary.json", "audit.md", "audit.html", "necessity.png"):  # fmt: skip
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert sum(row["count"] for row in summary["pairs"]) == 27  # 3 images x 9 other classes
    assert "page:" in done.stdout and "# Audit: which changes" in (out / "audit.md").read_text()
    again = cli("audit", str(tiny_run.directory), "--out", str(out), "--limit", "3")
    assert again.returncode == 0 and "reused: explanation, necessity" in again.stderr
    other = cli("audit", str(tiny_run.directory), "--out", str(out), "--limit", "4")
    assert other.returncode == 2 and "holds another audit job" in other.stderr
    fresh = cli("audit", str(tiny_run.directory), "--out", str(out), "--limit", "2", "--force")
    assert fresh.returncode == 0, fresh.stderr


def every_place_a_candidate(monkeypatch) -> None:
    """The tiny run learnt no shortcut: make every place CEs toward a class need a candidate,
    so that a repair has reliance figures to check."""
    import leapfactual.audit.jobs as jobs
    import leapfactual.audit.transplant as transplant

    found = jobs.class_findings
    monkeypatch.setattr(transplant, "CONCENTRATED", 0.0)
    monkeypatch.setattr(
        jobs, "class_findings", lambda *a, **k: [replace(f, outside=True) for f in found(*a, **k)]
    )


def test_repair_with_a_model_teacher_resumes(cli, tiny_run, tmp_path, monkeypatch) -> None:
    every_place_a_candidate(monkeypatch)
    out = tmp_path / "repair"
    spec = str(tiny_run.directory / "classifier")  # the model itself: shares any shortcut
    args = ["repair", str(tiny_run.directory), "--out", str(out), "--teacher", "model",
            "--teacher-spec", spec, "--allow-shortcut-teacher", *ROUND]  # fmt: skip
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "repair.json").read_text())
    assert record["teacher"] == "ModelTeacher" and len(record["history"]) == 1
    assert record["teacher_check"] == "overridden" and record["verdict"] in VERDICTS
    assert f"verdict: {record['verdict']}" in done.stdout and "cost: " in done.stdout
    assert "**Verdict: " in (out / "repair.md").read_text()
    assert "<strong>Verdict: " in (out / "repair.html").read_text()
    # the repaired model is a run: one command audits it, and on the repair's seed and limit
    # measures the very numbers the verdict was read from
    repaired = json.loads((out / "run" / "run.json").read_text())
    assert repaired["repaired_from"]["verdict"] == record["verdict"]
    audited = cli("audit", str(out / "run"), "--out", str(tmp_path / "after"), "--limit", "3",
                  "--seed", "0")  # fmt: skip
    assert audited.returncode == 0, audited.stderr
    assert "--limit 3 --seed 0" in done.stdout
    assert "Run verdict: not recorded" in (tmp_path / "after" / "audit.md").read_text()
    again = json.loads((tmp_path / "after" / "summary.json").read_text())
    assert again == json.loads((out / "audit-after" / "summary.json").read_text())
    same = {(r["candidate"]["class"], r["candidate"]["place"]): r["reliance"]["model"]
            for r in again["candidates_before_repair"]}  # fmt: skip
    own = {(r["candidate"]["class"], r["candidate"]["place"]): r["reliance"]["model"]
           for r in again["candidates"]}  # fmt: skip
    kept = [r for r in record["reliance"] if "before" in r["reliance"]]
    assert kept and len(kept) == len(same)
    for row in record["reliance"]:
        key = (row["candidate"]["class"], row["candidate"]["place"])
        if key in same:
            assert row["reliance"]["after_same"] == same[key]
            assert row["reliance"].get("after_own") == own.get(key)
        measured = [v for v in (same.get(key), own.get(key)) if v is not None]
        assert row["reliance"]["after"] == (max(measured) if measured else None)
    explained = cli("explain", str(out / "run"), "--out", str(tmp_path / "exp"), "--limit", "2")
    assert explained.returncode == 0, explained.stderr
    assert 0 <= record["after"]["worst_class"] <= record["after"]["accuracy"] <= 1
    assert (out / "classifier.safetensors").is_file() and (out / "repair.md").is_file()
    assert "before accuracy" in done.stdout
    again = cli(*args)
    assert again.returncode == 0 and "1 of 1 rounds already done" in again.stderr


def test_repair_with_rule_and_human_teachers(cli, tiny_run, tmp_path, monkeypatch) -> None:
    (tmp_path / "my_rules.py").write_text(
        "import torch\n\n\ndef zero(x):\n    return torch.zeros(len(x), 10).index_fill(1, "
        "torch.tensor([0]), 1.0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rule = tmp_path / "rule"
    done = cli("repair", str(tiny_run.directory), "--out", str(rule), "--teacher", "rule",
               "--teacher-spec", "my_rules:zero", *ROUND)  # fmt: skip
    assert done.returncode == 0, done.stderr
    added, _ = load_tensors(rule / "round-0" / "added")
    assert len(added["labels"]) > 0 and bool((added["labels"] == 0).all())
    assert json.loads((rule / "repair.json").read_text())["teacher_check"] == "passed"
    box = cli("repair", str(tiny_run.directory), "--out", str(tmp_path / "box"), "--teacher",
              "rule", "--ignore-region", "0,0,7,7", "--no-counterexamples", *ROUND)  # fmt: skip
    assert box.returncode == 0, box.stderr
    boxed = json.loads((tmp_path / "box" / "repair.json").read_text())
    assert boxed["teacher"] == "IgnoreTeacher" and boxed["history"][0]["painted"] == 0
    # the human answers "shortcut" to every CE of the same first round (same queue)
    answers = tmp_path / "answers.jsonl"
    ids = [f"r0-{i}-{t}" for i, t in zip(added["index"].tolist(), added["targets"].tolist(),
                                        strict=True)]  # fmt: skip
    answers.write_text("".join(json.dumps({"id": i, "kind": "shortcut"}) + "\n" for i in ids))
    human = tmp_path / "human"
    done = cli("repair", str(tiny_run.directory), "--out", str(human), "--teacher", "human",
               "--answers", str(answers), *ROUND)  # fmt: skip
    assert done.returncode == 0, done.stderr
    got, _ = load_tensors(human / "round-0" / "added")
    assert torch.equal(got["labels"], got["sources"]) and len(got["labels"]) == len(ids)
    # every CE kept at its source: two counterexamples each, no answer more
    history = json.loads((human / "repair.json").read_text())["history"]
    assert history[0]["painted"] == 2 * len(ids)
    missing = cli("repair", str(tiny_run.directory), "--out", str(tmp_path / "x"), "--teacher",
                  "rule", *ROUND)  # fmt: skip
    assert missing.returncode == 2 and "needs the rule" in missing.stderr
    unknown = cli("repair", str(tiny_run.directory), "--out", str(tmp_path / "y"), "--teacher",
                  "crowd", *ROUND)  # fmt: skip
    assert unknown.returncode == 2 and "unknown teacher" in unknown.stderr
    no_oracle = cli("repair", str(tiny_run.directory), "--out", str(tmp_path / "z"), "--teacher",
                    "model", *ROUND)  # fmt: skip
    assert no_oracle.returncode == 2 and "has no oracle" in no_oracle.stderr


def test_the_oracle_hint_works_as_printed(cli, tiny_run, tmp_path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run.directory, run)
    refused = cli("repair", str(run), "--out", str(tmp_path / "r"), "--teacher", "model", *ROUND)
    assert refused.returncode == 2 and "has no oracle" in refused.stderr
    hint = refused.stderr.split("`")[1]
    assert hint.startswith("leapfactual fit --out ")
    done = cli(*shlex.split(hint)[1:])
    assert done.returncode == 0, done.stderr
    assert (run / "oracle.safetensors").is_file()
