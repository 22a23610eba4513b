"""Counterfactuals as attributions: Captum's and Quantus' metrics on LeapFactual CEs
(docs/tutorials/attribution-metrics.md).

    python examples/attribution_metrics.py --out work/attribution   # needs captum and quantus
    python examples/attribution_metrics.py --out work/attribution --quick
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import quantus
import torch
from captum.metrics import sensitivity_max

import leapfactual as lf
from leapfactual.audit import CounterfactualAttribution
from leapfactual.pipeline import override
from leapfactual.testing import QUICK  # tiny settings: the code path in seconds


def score_counterfactuals(out: Path, quick: bool = False) -> None:
    """Fit a run on MNIST digits, then score its CEs with a Captum and a Quantus metric."""
    config = lf.FitSettings(data="mnist5k")
    run = lf.fit_run(out / "run", override(config, QUICK) if quick else config)
    x = run.test.images[:8]
    with torch.no_grad():
        t = (run.classifier(x).argmax(1) + 1) % 10  # toward the next digit
    attr = CounterfactualAttribution(run.explainer(), kind="change")  # or kind="necessity"
    change = attr.attribute(x, t)  # [8, 1, 28, 28]: x' - x, zero where the CE missed
    print(f"{int(attr.last.valid.sum())} of {len(x)} CEs reach their target")

    def nudge(inputs: torch.Tensor, perturb_radius: float = 0.02) -> torch.Tensor:
        noise = torch.empty_like(inputs).uniform_(-perturb_radius, perturb_radius)
        return (inputs + noise).clamp(0, 1)  # the models take images in [0, 1]

    torch.manual_seed(0)
    sens = sensitivity_max(attr.attribute, x, perturb_func=nudge, n_perturb_samples=3, target=t)
    print("Captum max-sensitivity per CE:", [round(float(s), 3) for s in sens])

    def explain(model: object, inputs: np.ndarray, targets: np.ndarray, **_: object) -> np.ndarray:
        images = torch.as_tensor(inputs).clamp(0, 1)  # Quantus' noise may leave [0, 1]
        return attr.attribute(images, torch.as_tensor(targets)).numpy()

    sparseness = quantus.Sparseness(disable_warnings=True)(
        model=run.classifier,
        x_batch=x.numpy(),
        y_batch=t.numpy(),
        a_batch=change.numpy(),
        explain_func=explain,
        device="cpu",
    )
    print("Quantus sparseness per CE:", [round(float(s), 3) for s in sparseness])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("work/attribution"))
    parser.add_argument("--quick", action="store_true", help="tiny epochs (for the tests)")
    args = parser.parse_args()
    score_counterfactuals(args.out, args.quick)


if __name__ == "__main__":
    main()
