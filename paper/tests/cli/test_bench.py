"""The ``bench`` command end to end on a tiny folder of digits."""

import json

from leapfactual.testing import QUICK, set_args

TINY = set_args({**QUICK, "classifier.accept_chance": "true"})  # the code path, not its quality


def test_bench_thickness_task_on_a_folder_of_digits(cli, tmp_path) -> None:
    from PIL import Image

    from leapfactual.data import load_mnist5k

    folder = tmp_path / "digits" / "any"
    folder.mkdir(parents=True)
    for i, image in enumerate(load_mnist5k().images[::100]):  # 50 digits
        Image.fromarray((image[0] * 255).byte().numpy()).save(folder / f"{i}.png")
    out = tmp_path / "res" / "thickness"
    done = cli(
        *("bench", "--task", "thickness", "--data", f"image-folder:{folder.parent}"),
        *("--limit", "4", "--methods", "leapfactual", "--seeds", "0,1"),
        *("--run", str(tmp_path / "run"), "--out", str(out), *TINY),
    )
    assert done.returncode == 0, done.stderr
    assert "validity (true rule)" in done.stdout
    assert (out.with_suffix(".md")).exists() and (out.with_suffix(".png")).exists()
    for seed in (0, 1):
        meta = json.loads((tmp_path / "run" / f"seed-{seed}" / "run.json").read_text())
        assert meta["config"]["data"] == f"thickness:image-folder:{folder.parent}"
        assert meta["config"]["seed"] == seed
    rows = (out.parent / "thickness-seeds.csv").read_text().splitlines()
    assert rows[0] == "seed,metric,column,value,sem"
    assert {row.split(",")[0] for row in rows[1:]} == {"0", "1"}
    assert "2 seeds (0, 1)" in out.with_suffix(".md").read_text()
    assert "LeapFactual ci95" in out.with_suffix(".csv").read_text().splitlines()[0]
    bad = cli("bench", "--task", "colour")
    assert bad.returncode == 2 and "unknown task 'colour'" in bad.stderr
    bad = cli("bench", "--task", "thickness", "--targets", "uniform")
    assert bad.returncode == 2 and "--targets applies to the morphomnist task" in bad.stderr
    bad = cli("bench", "--targets", "all")
    assert bad.returncode == 2 and "unknown target draw 'all'" in bad.stderr
    bad = cli("bench", "--seeds", "0,one")
    assert bad.returncode == 2 and "--seeds takes comma-separated whole numbers" in bad.stderr
    bad = cli("bench", "--ablations", "codec,size")
    assert bad.returncode == 2 and "unknown ablation 'size'; choose from codec" in bad.stderr
    bad = cli("bench", "--task", "thickness", "--ablations", "codec")
    assert bad.returncode == 2 and "--ablations applies to the morphomnist task" in bad.stderr
    bad = cli("bench", "--ablation-limit", "2")
    assert bad.returncode == 2 and "--ablation-limit" in bad.stderr
