"""Explain your own classifier on your own RGB images, from Python (docs/tutorials/own-model.md).

    python examples/own_model.py --out work            # a few minutes on a 2-core CPU
    python examples/own_model.py --out work --files-only

Step 1 stands in for what you already have: a folder of RGB images in class sub-folders and a
classifier you trained yourself, exported with ``torch.export``. Steps 2-3 are the library.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import leapfactual as lf
from leapfactual.data import colour_shapes
from leapfactual.pipeline import override
from leapfactual.testing import export_classifier, train_user_classifier, write_image_folder


def make_user_files(out: Path, size: int = 32, quick: bool = False) -> tuple[Path, Path]:
    """Step 1: ``out/images/CLASS/*.png`` (RGB) and ``out/classifier.pt2``."""
    n, n_train, epochs = (160, 400, 1) if quick else (600, 2000, 4)
    images = write_image_folder(colour_shapes(n, size, seed=0), out / "images")
    model = train_user_classifier(colour_shapes(n_train, size, seed=1), 16, epochs, seed=0)
    example = torch.rand(2, 3, size, size)
    return images, export_classifier(model, example, out / "classifier.pt2")


def explain_own_model(out: Path, images: Path, classifier: Path, quick: bool = False) -> None:
    """Steps 2-3: fit the VAE and the flow on your model's outputs, then explain."""
    config = lf.FitSettings(
        data=f"image-folder:{images}",
        classifier=lf.ClassifierSettings(spec=str(classifier)),  # yours: never trained here
        vae=lf.VAESettings(kind="resnet", epochs=100, agreement=0.01),
        flow=lf.FlowSettings(width=256, depth=4, epochs=2000, lr=1e-3, batch_size=64),
    )
    if quick:
        # the quick classifier (1 epoch) is near chance: fit stops on it unless accepted
        config = override(
            config,
            {
                "vae.epochs": 2,
                "flow.epochs": 3,
                "vae.min_steps": 0,
                "flow.min_steps": 0,
                "classifier.accept_chance": True,
            },
        )
    run = lf.fit_run(out / "run", config, progress=True)
    print("fitted:", run.image_shape, run.summary)
    for warning in run.warnings:
        print("warning:", warning)
    job = lf.ExplainSettings(target="next", limit=16)
    picked = [str(images / "0-red-circle")]  # files, folders, class trees or 'glob/*.png'
    result = lf.explain_run(run, out / "explained", images=picked, settings=job)
    exp = result.explanation
    assert exp is not None
    print(f"{len(exp)} CEs at {tuple(exp.x_cf.shape[1:])}: validity {exp.valid.float().mean():.2f}")

    from leapfactual.report import build_report, write_report

    page = build_report(exp, run.class_names, title="My classifier, explained")
    print("report:", write_report(page, out / "explained" / "report.html"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("work"))
    parser.add_argument("--files-only", action="store_true", help="only step 1")
    parser.add_argument("--quick", action="store_true", help="tiny epochs (for the tests)")
    args = parser.parse_args()
    images, classifier = make_user_files(args.out, quick=args.quick)
    print("your images:", images, "your classifier:", classifier)
    if not args.files_only:
        explain_own_model(args.out, images, classifier, args.quick)


if __name__ == "__main__":
    main()
