"""The demo, step by step, from Python (docs/tutorials/demo.md).

    python examples/demo.py --out work/demo       # about 2 minutes on a 2-core CPU
    python examples/demo.py --out work/demo --quick

What ``leapfactual demo`` does, written out: fit a VAE, a classifier and the CE-CFM flow on the
5,000 MNIST digits shipped in the package, explain held-out digits toward another class, and
write a report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import leapfactual as lf
from leapfactual.explain import random_other_targets
from leapfactual.pipeline import override
from leapfactual.report import build_report, write_report
from leapfactual.testing import QUICK  # tiny settings: the code path in seconds


def explain_the_demo(out: Path, quick: bool = False) -> lf.Explanation:
    """Fit (or reuse) the run in ``out/run``, explain held-out digits, write the report."""
    config = lf.FitSettings(data="mnist5k", seed=0)  # 4,000 training / 1,000 held-out digits
    if quick:
        config = override(config, QUICK)
    run = lf.fit_run(out / "run", config, progress=True)  # VAE, classifier, flow
    print("fitted:", run.summary)
    test = run.test  # the held-out digits, never seen in training
    n = 16 if quick else 500
    x, labels = test.images[:n], test.labels[:n]
    targets = random_other_targets(labels, test.num_classes, seed=0)  # another class each
    explainer = run.explainer()  # LeapFactual on the run's models
    exp = explainer.explain(x, targets)
    print(f"{len(exp)} CEs: validity {exp.valid.float().mean():.2f}")
    assert exp.valid_reliable is not None
    print(f"reliable CEs: validity {exp.valid_reliable.float().mean():.2f}")
    print("cost per CE:", exp.cost.per_ce())
    exp.save(out / "explanation")  # safetensors + JSON
    page = build_report(exp, run.class_names, title="LeapFactual on MNIST digits", run=run)
    print("report:", write_report(page, out / "report.html"))
    return exp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("work/demo"))
    parser.add_argument("--quick", action="store_true", help="tiny epochs (for the tests)")
    args = parser.parse_args()
    explain_the_demo(args.out, args.quick)


if __name__ == "__main__":
    main()
