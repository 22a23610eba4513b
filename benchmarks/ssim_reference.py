"""Our SSIM against scikit-image's and torchmetrics' on pairs of MNIST digits.

    pip install torchmetrics   # not a dependency of leapfactual; scikit-image is in dev
    python benchmarks/ssim_reference.py [--pairs 500] [--seed 0]

Pairs: two independent seeded draws of the packaged ``mnist5k`` digits. Prints, per
reference, the largest and the mean absolute difference to
:func:`leapfactual.metrics.proximity.ssim` (the numbers its docstring quotes).
"""

from __future__ import annotations

import argparse

import torch

from leapfactual.data import load_mnist5k
from leapfactual.metrics import ssim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from skimage.metrics import structural_similarity
    from torchmetrics.functional.image import structural_similarity_index_measure

    x = load_mnist5k().images
    g = torch.Generator().manual_seed(args.seed)
    a = x[torch.randperm(len(x), generator=g)[: args.pairs]]
    b = x[torch.randperm(len(x), generator=g)[: args.pairs]]
    ours = ssim(a, b)
    references = {
        "scikit-image (gaussian_weights, sigma 1.5, population covariance)": torch.tensor(
            [
                structural_similarity(
                    p[0].double().numpy(),
                    q[0].double().numpy(),
                    data_range=1.0,
                    gaussian_weights=True,
                    sigma=1.5,
                    use_sample_covariance=False,
                )
                for p, q in zip(a, b, strict=True)
            ]
        ),
        "torchmetrics (defaults, data_range 1)": structural_similarity_index_measure(
            a, b, data_range=1.0, reduction="none"
        ),
    }
    print(f"{args.pairs} pairs of mnist5k digits (seed {args.seed}); |ours - reference|:")
    for name, values in references.items():
        gap = (ours.double() - values.double()).abs()
        print(f"  {name}: max {gap.max():.2g}, mean {gap.mean():.2g}")


if __name__ == "__main__":
    main()
