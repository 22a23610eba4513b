"""``fit --kind regressor`` and ``explain --target-shift / --target-value / --diverse``."""

import pytest
import torch

from leapfactual.explain import Explanation
from leapfactual.testing import NO_MIN_STEPS, set_args


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    from PIL import Image

    from leapfactual.data import load_mnist5k

    folder = tmp_path_factory.mktemp("digits") / "any"
    folder.mkdir()
    for i, image in enumerate(load_mnist5k().images[::100]):  # 50 digits
        Image.fromarray((image[0] * 255).byte().numpy()).save(folder / f"{i}.png")
    return folder.parent


TINY = [
    *("--latent-dim", "8", "--vae-epochs", "1", "--classifier-epochs", "1", "--flow-epochs", "2"),
    *("--set", "vae.width=8", "--set", "classifier.width=8"),
    *set_args({**NO_MIN_STEPS, "classifier.accept_chance": "true"}),  # the code path only
]


def test_fit_and_explain_a_regressor(cli, tmp_path, digits_folder) -> None:
    run = tmp_path / "run"
    data = f"stroke-thickness:image-folder:{digits_folder}"
    done = cli("fit", "--data", data, "--kind", "regressor", *TINY, "--out", str(run))
    assert done.returncode == 0, done.stderr
    assert "regressor_test_mae" in done.stdout
    out = tmp_path / "ces"
    args = ("explain", str(run), "--limit", "3", "--tolerance", "0.3", "--trajectory", "none")
    done = cli(*args, "--target-shift", "1.0", "--diverse", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    exp = Explanation.load(out)
    assert len(exp) == 6 and exp.tolerance == 0.3 and exp.variant.tolist() == [0, 1] * 3
    assert torch.allclose(exp.target, exp.source + 1.0)
    assert (out / "report.html").exists()
    done = cli(*args, "--target-value", "2.5", "--method", "opt", "--out", str(tmp_path / "opt"))
    assert done.returncode == 0, done.stderr
    assert torch.equal(Explanation.load(tmp_path / "opt").target, torch.full((3,), 2.5))
    for extra, message in (
        (("--method", "cgm", "--target-value", "2.5"), "explains classifiers only"),
        (("--target-value", "2.5", "--target-shift", "1"), "not both"),
        (("--diversity", "wild", "--target-value", "2.5"), "unknown diversity mechanism"),
    ):
        bad = cli(*args, *extra, "--out", str(tmp_path / "bad"))
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
