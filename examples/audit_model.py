"""Audit a classifier: which of a counterfactual's changes does the model need?
(docs/tutorials/audit.md)

    python examples/audit_model.py --out work/audit     # a few minutes on a 2-core CPU
    python examples/audit_model.py --out work/audit --quick
"""

from __future__ import annotations

import argparse
from pathlib import Path

import leapfactual as lf
from leapfactual.audit import audit_run
from leapfactual.pipeline import override
from leapfactual.testing import QUICK  # tiny settings: the code path in seconds


def audit_a_model(out: Path, quick: bool = False) -> None:
    """Fit a run on MNIST digits, audit its classifier on held-out digits, print the findings."""
    config = lf.FitSettings(data="mnist5k")
    if quick:
        config = override(config, QUICK)
    run = lf.fit_run(out / "run", config, progress=True)
    limit = 3 if quick else 50
    result = audit_run(run, out / "audit", images="test", limit=limit, log=print)
    nec = result.necessity  # per CE: its change cut into regions, and each region's drop
    print(f"{len(nec.count)} CEs, {nec.count.float().mean():.1f} regions each")
    for pair in result.summaries[:3]:  # per (source, target): change, necessity, COUT
        print(pair.source, "->", pair.target, pair.valid, "valid", pair.most_needed)
    for finding in result.findings[:3]:  # per class: where the needed change sits
        print("finding:", finding)
    print("page:", result.page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("work/audit"))
    parser.add_argument("--quick", action="store_true", help="tiny epochs (for the tests)")
    args = parser.parse_args()
    audit_a_model(args.out, args.quick)


if __name__ == "__main__":
    main()
