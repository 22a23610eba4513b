"""The commands end to end, in this process through the real entry point (the ``cli``
fixture: ``leapfactual.cli.app.main``); tests/cli/test_app.py and tests/errors start real
``python -m leapfactual`` processes."""

import json
import re

import torch

from leapfactual.explain import Explanation
from leapfactual.testing import NO_MIN_STEPS, set_args


def test_explain_writes_explanation_and_report(cli, tiny_run, tmp_path) -> None:
    out = tmp_path / "exp"
    done = cli(
        *("explain", str(tiny_run.directory), "--out", str(out), "--target", "all-others"),
        *("--limit", "2", "--blend-steps", "3", "--inject-steps", "1"),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()  # the tiny run's one-epoch codec: untrusted, said first
    assert lines[0].startswith("Run verdict: untrusted. Validity is not meaningful here")
    assert lines[1].startswith("18 counterfactuals: validity") and ", robust " in lines[1]
    took = f"explaining 2 of the {len(tiny_run.test)} test images; --limit 2 (0: all)\n"
    assert took in done.stderr  # the library's message, shown by the command line
    exp = Explanation.load(out)
    assert len(exp) == 18
    assert exp.verdict == "untrusted" and exp.robust is not None  # saved with the CEs
    assert exp.trajectory is not None and exp.trajectory_images is None  # default: latents
    page = (out / "report.html").read_text()
    assert page.count('class="sample"') == 12 and page.count("data:image/gif") == 12
    assert page.count('class="ce') == 18 and 'id="matrix"' in page
    report = cli(
        *("report", str(out), "--out", str(tmp_path / "r.html")),
        *("--samples", "3", "--order", "random", "--seed", "1", "--thumb-size", "96"),
    )
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text()
    thumbs = re.findall(r'height="(\d+)" alt="CE #', page)  # the failures and all CEs
    assert len(thumbs) >= 18 and set(thumbs) == {"96"}
    assert page.count("data:image/gif") == 3  # the recorded run decodes the paths
    assert "3 of 18 CEs, chosen at random (seeded)" in page
    bad = cli("report", str(out), "--order", "worst", "--out", str(tmp_path / "b.html"))
    assert bad.returncode == 2 and "unknown sample order 'worst'" in bad.stderr


def test_explain_image_files(cli, tiny_run, tmp_path) -> None:
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        arr = (tiny_run.test.images[i, 0] * 255).byte().numpy()
        Image.fromarray(arr).save(folder / f"d{i}.png")
    done = cli(
        *("explain", str(tiny_run.directory), "--out", str(tmp_path / "e")),
        *("--images", str(folder), "--target", "next", "--blend-steps", "2", "--inject-steps", "0"),
    )
    assert done.returncode == 0, done.stderr
    meta = json.loads((tmp_path / "e" / "explanation.json").read_text())
    assert meta["config"]["inputs"] == ["d0.png", "d1.png", "d2.png"]
    assert "explaining 3 of 3 images found\n" in done.stderr  # all: no limit named
    assert "#0 (d0.png)" in (tmp_path / "e" / "report.html").read_text()
    assert Explanation.load(tmp_path / "e").x_reliable is None  # --inject-steps 0: none


def test_explain_takes_a_class_tree_evenly(cli, tiny_run, tmp_path) -> None:
    from PIL import Image

    for k, cls in enumerate(("a", "b", "c")):
        (tmp_path / "tree" / cls).mkdir(parents=True)
        for i in range(2):
            arr = (tiny_run.test.images[2 * k + i, 0] * 255).byte().numpy()
            Image.fromarray(arr).save(tmp_path / "tree" / cls / f"d{i}.png")
    done = cli(
        *("explain", str(tiny_run.directory), "--out", str(tmp_path / "e")),
        *("--images", str(tmp_path / "tree"), "--limit", "3", "--samples", "0"),
        *("--blend-steps", "1", "--inject-steps", "0"),
    )
    assert done.returncode == 0, done.stderr
    took = "explaining 3 of 6 images found (taken evenly over the classes); --limit 3 (0: all)"
    assert took in done.stderr
    meta = json.loads((tmp_path / "e" / "explanation.json").read_text())
    assert meta["config"]["inputs"] == ["a/d0.png", "b/d0.png", "c/d0.png"]


def test_existing_output_needs_force(cli, tiny_run, tmp_path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    done = cli("explain", str(tiny_run.directory), "--out", str(tmp_path), "--limit", "1")
    assert done.returncode == 2 and "--force" in done.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_force_removes_only_what_explain_writes(cli, tiny_run, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "shards").mkdir(parents=True)  # a former sharded job's: the explain job's own
    (out / "report.html").write_text("old")
    (out / "keep.txt").write_text("mine")
    fast = ("--limit", "1", "--blend-steps", "1", "--inject-steps", "0")
    done = cli("explain", str(tiny_run.directory), "--out", str(out), "--force", *fast)
    assert done.returncode == 0, done.stderr
    assert f"note: --force kept 1 entry of {out} that this job does not write: keep.txt" in (
        done.stderr
    )
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "explanation.json",
        "explanation.safetensors",
        "keep.txt",
        "report.html",
    ]
    assert (out / "keep.txt").read_text() == "mine" and (out / "report.html").read_text() != "old"
    again = cli("explain", str(tiny_run.directory), "--out", str(out), *fast)
    bad = cli(
        "explain", str(tiny_run.directory), "--out", str(out), "--force", "--images", "no.png"
    )
    assert bad.returncode == 2 and (out / "explanation.json").is_file()  # refused: nothing gone
    held = f"{out} already holds an explanation; write its page with `leapfactual report {out}`"
    assert again.returncode == 2 and held in again.stderr
    link = tmp_path / "link"
    link.symlink_to(out)
    linked = cli("explain", str(tiny_run.directory), "--out", str(link), "--force", *fast)
    assert linked.returncode == 2 and "is a symbolic link (to" in linked.stderr
    assert (out / "keep.txt").is_file() and (out / "explanation.json").is_file()


def test_bad_target_and_missing_run_are_one_line_errors(cli, tiny_run, tmp_path) -> None:
    bad = cli("explain", str(tiny_run.directory), "--out", str(tmp_path / "x"), "--target", "12")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: target class 12 is outside 0-9"
    missing = cli("explain", str(tmp_path / "nothing"), "--out", str(tmp_path / "y"))
    assert missing.returncode == 2 and "not a leapfactual run" in missing.stderr
    assert "Traceback" not in missing.stderr
    debug = cli("--debug", "explain", str(tmp_path / "nothing"), "--out", str(tmp_path / "z"))
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_fit_command_completes_a_run(cli, tmp_path) -> None:
    done = cli(
        *("fit", "--out", str(tmp_path / "run"), "--data", "digits", "--latent-dim", "4"),
        *("--vae-epochs", "1", "--classifier-epochs", "1", "--flow-epochs", "1"),
        *set_args({**NO_MIN_STEPS, "classifier.accept_chance": "true"}),
    )
    assert done.returncode == 0, done.stderr
    assert "classifier_test_accuracy" in done.stdout
    assert re.search(
        r"^flow: \d+ epochs, fixed number of epochs \(patience = 0\)$", done.stdout, re.M
    )
    assert (tmp_path / "run" / "flow.safetensors").exists()


def test_sharded_explain_streams_restarts_and_merges(cli, tiny_run, tmp_path) -> None:
    out = tmp_path / "sharded"
    args = ["explain", str(tiny_run.directory), "--out", str(out), "--limit", "10"]
    args += ["--repeat", "3", "--shard-size", "8", "--blend-steps", "2", "--inject-steps", "0"]
    first = cli(*args, "--no-merge")
    assert first.returncode == 0, first.stderr
    assert "4 shards in" in first.stdout and "0 were already done, rank 0 made 4" in first.stdout
    assert not (out / "explanation.json").exists()
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert "4 were already done" in again.stdout
    exp = Explanation.load(out)
    assert len(exp) == 30 and torch.equal(exp.x[:10], exp.x[10:20])
    other = cli(*args[:-1], "3")
    assert other.returncode == 2 and "another explain job" in other.stderr


def test_fit_settings_come_from_file_then_flags_then_set(cli, tmp_path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        'data = "digits"\n[vae]\nlatent_dim = 4\nwidth = 4\nepochs = 3\n'
        "[classifier]\nwidth = 4\nepochs = 1\n[flow]\nepochs = 5\nwidth = 8\n"
    )
    out = tmp_path / "run"
    done = cli(
        "fit", "--config", str(config), "--vae-epochs", "1", "--flow-epochs", "2",
        "--set", "flow.epochs=1", "--out", str(out),
        *set_args({**NO_MIN_STEPS, "classifier.accept_chance": "true"}),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Run verdict: ")  # the verdict first, then its checks
    saved = json.loads((out / "run.json").read_text())["config"]
    assert saved["data"] == "digits" and saved["vae"]["latent_dim"] == 4  # the file
    assert saved["vae"]["epochs"] == 1  # a flag over the file
    assert saved["flow"]["epochs"] == 1 and saved["flow"]["width"] == 8  # --set over the flag
    assert "images: 1 x 8 x 8 (10 classes)" in done.stdout


def test_explain_integrates_through_solver_checkpoints(cli, tiny_run, tmp_path) -> None:
    out = tmp_path / "e"
    done = cli(
        *("explain", str(tiny_run.directory), "--out", str(out), "--limit", "2"),
        *("--blend-steps", "1", "--inject-steps", "0", "--trajectory", "none"),
        *("--solver", "dopri5", "--solver-checkpoints", "5"),
    )
    assert done.returncode == 0, done.stderr
    meta = json.loads((out / "explanation.json").read_text())
    assert meta["config"]["solver"]["checkpoints"] == 5
    refused = cli(
        *("explain", str(tiny_run.directory), "--out", str(tmp_path / "f")),
        *("--solver", "rk4", "--solver-checkpoints", "5"),
    )
    assert refused.returncode == 2 and "adaptive" in refused.stderr


def test_explain_takes_the_blending_stop_rules(cli, tiny_run, tmp_path) -> None:
    out = tmp_path / "e"
    done = cli(
        *("explain", str(tiny_run.directory), "--out", str(out), "--limit", "2"),
        *("--settle", "0.01", "--boost", "4", "--inject-steps", "0", "--trajectory", "none"),
    )
    assert done.returncode == 0, done.stderr
    blend = json.loads((out / "explanation.json").read_text())["config"]["blend"]
    assert (blend["settle"], blend["boost"]) == (0.01, 4.0)
