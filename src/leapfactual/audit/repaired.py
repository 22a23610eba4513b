"""A repaired classifier as a run of its own, so that ``audit``, ``explain`` and ``report``
take it as they take any run.

The repaired run holds the original run's split, codec and oracle (copied), the repaired
classifier, and a flow fitted anew for it (as the run's flow stage fits one: a flow
conditioned on the old classifier would make CEs of the old one). Its ``run.json`` is the
original's with the new files' hashes, ``repaired_from`` (the original run, the teacher and
the repair's verdict), the repaired classifier's test accuracy, and no CGM codec or fit
verdict (both were measured for the old classifier).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from leapfactual.audit.checks import Candidate, save_candidates
from leapfactual.flow import save_field
from leapfactual.io import read_sidecar, save_module, write_json
from leapfactual.pipeline import STAGES, Run, fit_flow_for

COPIED = ("split", "vae", "oracle")
"""Files of the original run the repaired run shares."""
CANDIDATES = "candidates"
"""The stem, in a repaired run, of the candidates of the audit before the repair."""


def write_repaired_run(
    run: Run,
    classifier: nn.Module,
    out: Path,
    origin: dict[str, Any],
    accuracy: float,
    candidates: Sequence[Candidate] = (),
) -> Path:
    """Write the run of ``classifier`` (repaired from ``run``) into ``out``; ``origin``: what
    ``repaired_from`` records; ``accuracy``: the classifier's accuracy on the run's test
    split; ``candidates``: the audit's before the repair."""
    run.require("vae")
    out.mkdir(parents=True, exist_ok=True)
    for stage in COPIED:
        for suffix in (".safetensors", ".json"):
            path = run.directory / f"{stage}{suffix}"
            if path.is_file():
                shutil.copyfile(path, out / path.name)
    save_module(classifier, out / "classifier")
    seed = run.config.seed + STAGES.index("flow")
    flow = fit_flow_for(
        classifier, run.vae, run.train.images, run.config.flow, seed, outputs=run.outputs,
        device=run.device,
    )  # fmt: skip
    save_field(flow, out / "flow")
    save_candidates(out / CANDIDATES, candidates)
    written = json.loads((run.directory / "run.json").read_text(encoding="utf-8"))
    files = {k: v for k, v in written.get("files", {}).items() if k in COPIED}
    for stage in ("classifier", "flow"):
        files[stage] = read_sidecar(out / stage)["sha256"]
    meta = {k: v for k, v in written.items() if k not in ("verdict", "warnings")}
    summary = {k: v for k, v in meta.get("summary", {}).items() if not k.startswith("cvae")}
    meta.update(
        files=files,
        classifier_source=None,
        flow_classifier=files["classifier"],
        repaired_from=origin,
        summary={**summary, "classifier_test_accuracy": accuracy},
    )
    write_json(out / "run.json", meta, indent=2)
    return out


def record_verdict(out: Path, verdict: str) -> None:
    """Set ``repaired_from.verdict`` in the repaired run's ``run.json`` (the verdict is read
    from an audit of the run, so it comes after the run is written)."""
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    meta["repaired_from"]["verdict"] = verdict
    write_json(out / "run.json", meta, indent=2)


__all__ = ["CANDIDATES", "COPIED", "record_verdict", "write_repaired_run"]
