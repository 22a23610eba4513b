"""Every row of docs/errors.md, through the Python API and through the command line.

Each row has an API check (the exception and its message) and one or more command lines
that must end with exit code 2 and one ``error: ...`` line naming the problem, with no
traceback. The command lines run in this process through the real entry point
``leapfactual.cli.app.main`` (the ``cli`` fixture), so torch is imported once;
``test_real_process_*`` checks that ``python -m leapfactual`` behaves the same.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
import torch
from torch import nn

from leapfactual.audit import Finding, IgnoreTeacher, audit_run, make_teacher, necessity
from leapfactual.audit.cfkd import TargetTeacher, cfkd
from leapfactual.audit.checks import CandidateReliance, check_teacher, reliance_measure
from leapfactual.audit.ignore import candidate_parts, parse_region
from leapfactual.audit.jobs import audit_inputs
from leapfactual.audit.options import CFKDSettings, parse_rounds
from leapfactual.cli.fit import parse_size
from leapfactual.data import load_dataset, load_image_files
from leapfactual.data.folder import load_image_inputs
from leapfactual.data.idx import read_idx
from leapfactual.distributed import resolve_device
from leapfactual.explain import Blend, Explainer, Explanation, LeapFactual, OptBased, PixelAttack
from leapfactual.explain.base import as_probs
from leapfactual.explain.registry import build_explainer
from leapfactual.explain.targets import value_targets
from leapfactual.flow import ConditionSpec, MLPField, Solver, leap, load_field
from leapfactual.io import load_module, load_tensors, register, save_tensors
from leapfactual.models import Preprocess, load_codec, probe_classifier
from leapfactual.models.external import load_classifier
from leapfactual.models.resvae import ResVAE
from leapfactual.pipeline import (
    ClassifierSettings,
    ExplainSettings,
    FitSettings,
    FlowSettings,
    VAESettings,
    encode_decode,
    fit_run,
    load_run,
    override,
)
from leapfactual.pipeline.build import fit_classifier, fit_vae
from leapfactual.pipeline.explain import claim_output
from leapfactual.report import build_report
from leapfactual.report.html import check_thumb_size
from leapfactual.report.sections import select_samples
from leapfactual.training import fit, tracker

DOC = Path(__file__).parents[2] / "docs" / "errors.md"
USER_ERRORS = (ValueError, OSError)


@dataclass(frozen=True)
class Row:
    """One row of docs/errors.md: API call(s) that raise ``api``, command lines that fail
    with a message matching ``cli``."""

    id: str
    api: list[tuple[Callable[[Any, Any], object], str]]
    cli: list[tuple[Callable[[Any, Any], list[str]], str]] = field(default_factory=list)


def _explain(images: Callable[[Any], torch.Tensor], target: Any = 1) -> Callable[..., object]:
    def call(run: Any, broken: Any) -> object:
        return run.explainer(inject=None).explain(images(run), target)

    return call


def _x(run: Any) -> torch.Tensor:
    return run.test.images[:2]


def _leapfactual(field_: MLPField) -> Callable[..., object]:
    def call(run: Any, broken: Any) -> object:
        return LeapFactual(run.classifier, run.vae, field_, inject=None).explain(_x(run), 1)

    return call


def _wrong_encoding(run: Any, broken: Any) -> object:
    z = run.vae.encode(_x(run))
    labels = torch.tensor([1, 2])
    return leap(run.flow, z, labels, labels)  # class indices for a softmax-conditioned flow


def _unknown_method(run: Any, broken: Any) -> object:
    return build_explainer("foo", run.models())


_OUTS = itertools.count()


def _explain_cli(run_attr: str, *extra: str) -> Callable[[Any, Any], list[str]]:
    def args(run: Any, broken: Any) -> list[str]:
        run_dir = broken.run if run_attr == "run" else getattr(broken, run_attr)
        out = broken.root / "out" / f"{next(_OUTS)}-{run_attr}"  # one per command line
        return ["explain", str(run_dir), "--out", str(out), "--limit", "2", *extra]

    return args


def _report_cli(name: str) -> Callable[[Any, Any], list[str]]:
    return lambda run, broken: ["report", str(getattr(broken, name))]


def _relied(value: float) -> CandidateReliance:
    return CandidateReliance(
        Finding(1, "1", "toward", "r3c3", 0.9, 10, True), {"teacher": value}, {"teacher": 8}
    )


def _mask(broken: Any, side: int) -> str:
    from PIL import Image

    path = broken.root / f"mask{side}.png"
    Image.new("L", (side, side), 255).save(path)
    return str(path)


def _no_candidate() -> tuple[Explanation, Any, list[Any]]:
    x = torch.zeros(1, 1, 8, 8)
    exp = Explanation(method="by hand", x=x, x_cf=x, source=torch.tensor([0]),
                      target=torch.tensor([1]), probs=torch.tensor([[1.0, 0.0]]),
                      probs_cf=torch.tensor([[1.0, 0.0]]))  # fmt: skip
    return exp, None, []


def _flat(broken: Any) -> str:
    from PIL import Image

    folder = broken.root / "flat"
    folder.mkdir(exist_ok=True)
    Image.new("L", (28, 28), 128).save(folder / "one.png")
    return str(folder)


def _repair_cli(*extra: str) -> Callable[[Any, Any], list[str]]:
    def args(run: Any, broken: Any) -> list[str]:
        out = broken.root / "out" / f"{next(_OUTS)}-repair"
        return ["repair", str(broken.run), "--out", str(out), *extra]

    return args


FIT = ["fit", "--data", "digits", "--out"]
FAST = ("--blend-steps", "1", "--inject-steps", "0")


# -- hardening, round two -------------------------------------------------------------------
def _nan_classifier(run: Any, broken: Any) -> object:
    def nan(images: torch.Tensor) -> torch.Tensor:
        return run.classifier(images) * float("nan")

    return LeapFactual(nan, run.vae, run.flow, inject=None).explain(_x(run), 1)


def _full_disk(run: Any, broken: Any) -> object:
    with open("/dev/full", "w") as handle:  # every write: ENOSPC
        return handle.write("x")


HARDENING = [
    Row(
        "non_finite_output",
        [(_nan_classifier, r"the classifier \(function\) returned NaN or infinite values")],
        [
            (
                _explain_cli("run_nan", *FAST),
                r"the classifier \(CNNClassifier\) returned NaN or infinite values for 2 of 2 "
                r"samples .* while classifying the inputs \(leapfactual\)",
            )
        ],
    ),
    Row(
        "damaged_file",
        [(lambda r, b: load_run(b.run_flipped), r"classifier\.safetensors does not have the SHA")],
        [(_explain_cli("run_flipped"), r"damaged or was changed since\. Restore it")],
    ),
    Row(
        "linked_folder",
        [
            (
                lambda r, b: fit_run(b.run_linked, r.config, ("oracle",), dataset=r.dataset),
                r"checkpoints/oracle is a symbolic link; leapfactual never writes through",
            )
        ],
        [
            (
                lambda r, b: [
                    *("explain", str(b.run), "--out", str(b.linked_out), "--shard-size", "2"),
                    *("--force", "--limit", "2", *FAST),
                ],
                r"linked_out/shards is a symbolic link",
            )
        ],
    ),
    Row(
        "hostile_size",
        [
            (
                lambda r, b: Explanation.load(b.exp_huge),
                r"declares 1,099,511,627,776 bytes of tensors, over the limit",
            ),
            (lambda r, b: read_idx(b.root / "bomb-idx3-ubyte.gz"), r"over the limit of"),
        ],
        [(_report_cli("exp_huge"), r"exp_huge/explanation\.safetensors declares .* over the")],
    ),
    Row(
        "bad_device",
        [(lambda r, b: resolve_device("bogus"), r"unknown device 'bogus'")],
        [
            (_explain_cli("run", "--device", "bogus"), r"unknown device 'bogus'; give cpu"),
            (
                lambda r, b: [*FIT, str(b.root / "fit_device"), "--device", "cuda:7"],
                r"device 'cuda:7' (is not available here|does not exist)",
            ),
        ],
    ),
    Row(
        "bad_run_file",
        [(lambda r, b: load_run(b.run_badjson), r"run\.json: 'files' must be an object")],
        [
            (_explain_cli("run_badjson"), r"'files' must be an object of SHA-256 texts"),
            (_explain_cli("run_list"), r"run_list/run\.json is not a run file"),
        ],
    ),
    Row(
        "bad_explanation",
        [(lambda r, b: Explanation.load(b.exp_edited), r"unknown tensors \['extra'\]")],
        [(_report_cli("exp_edited"), r"explanation\.json is not a valid explanation")],
    ),
    Row(
        "wrong_galaxy_file",
        [(lambda r, b: load_dataset(f"galaxy10:{b.root / 'galaxy.h5'}"), r"is not an HDF5 file")],
        [
            (
                lambda r, b: [
                    "fit",
                    "--data",
                    f"galaxy10:{b.root / 'galaxy.h5'}",
                    "--out",
                    str(b.root / "fit_galaxy"),
                ],
                r"galaxy\.h5 is not an HDF5 file",
            )
        ],
    ),
    Row("machine_limits", [(_full_disk, r"No space left on device")]),
]


# -- hardening, round three (issue 28) ------------------------------------------------------
def _linked_out(b: Any) -> Path:
    """A link to ``existing_out`` (whose ``keep.txt`` must survive every command)."""
    link = b.root / "linked_existing"
    if not link.is_symlink():
        link.symlink_to(b.existing_out)
    return link


def _nan_teacher(run: Any, broken: Any) -> object:
    from leapfactual.audit import RuleTeacher, TeacherQueue

    x = _x(run)
    queue = TeacherQueue(x, x, torch.zeros(2).long(), torch.ones(2).long(), run.class_names)
    return RuleTeacher(lambda images: run.classifier(images) * float("nan")).label(queue)


def _few_entries(spec: str) -> Callable[..., object]:
    def call(run: Any, broken: Any) -> object:
        import leapfactual.data.folder as folder

        many = broken.root / "many"
        many.mkdir(exist_ok=True)
        for i in range(5):
            (many / f"{i}.png").write_bytes((broken.root / "digit.png").read_bytes())
        with mock.patch.object(folder, "MAX_ENTRIES", 3):
            return load_image_inputs([str(broken.root / spec)], 28, 1)

    return call


def _mismatched_trajectory(b: Any) -> Path:
    """An explanation whose stored trajectory images are 6x6 beside 8x8 inputs."""
    out = b.root / "exp_trajectory"
    if not out.exists():
        x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        probs = torch.full((2, 3), 1 / 3)
        Explanation(
            method="custom",
            x=x,
            x_cf=x.flip(0),
            source=torch.zeros(2, dtype=torch.long),
            target=torch.ones(2, dtype=torch.long),
            probs=probs,
            probs_cf=probs,
            steps=torch.full((2,), 2),
            trajectory_images=torch.rand(2, 3, 1, 6, 6),
        ).save(out)
    return out


def _full_after_saving(run: Any, broken: Any) -> object:
    from leapfactual.cli.common import saved_before

    with saved_before(broken.root / "saved"):
        raise OSError(errno.ENOSPC, "No space left on device", "saved/report.html")


def _probs(*parts: float) -> torch.Tensor:
    return torch.tensor([parts])


HARDENING_THREE = [
    Row(
        "force_link",
        [
            (
                lambda r, b: claim_output(_linked_out(b), True).__enter__(),
                r"linked_existing is a symbolic link \(to .*existing_out\); --force never removes",
            ),
            (
                lambda r, b: audit_run(r, _linked_out(b), limit=2, force=True),
                r"linked_existing is a symbolic link",
            ),
        ],
        [
            (
                lambda r, b: [
                    *("explain", str(b.run), "--out", str(_linked_out(b)), "--force"),
                    *("--limit", "1", *FAST),
                ],
                r"linked_existing is a symbolic link \(to .*\); --force never removes anything",
            ),
            (
                lambda r, b: [
                    *("audit", str(b.run), "--out", str(_linked_out(b)), "--force"),
                    *("--limit", "2"),
                ],
                r"linked_existing is a symbolic link",
            ),
        ],
    ),
    Row(
        "teacher_nan",
        [(_nan_teacher, r"the rule teacher \(function\) returned NaN or infinite values for 2")],
    ),
    Row(
        "input_layout",
        [
            (_explain(lambda r: _x(r).to_sparse()), r"dense tensor .* got layout torch\.sparse"),
            (_explain(lambda r: _x(r).to("meta")), r"got a meta tensor \(shapes only"),
            (_explain(lambda r: torch.complex(_x(r), _x(r))), r"must be a real float tensor"),
        ],
    ),
    Row(
        "target_overflow",
        [(_explain(_x, 2**63), r"target 9223372036854775808 is no class index \(over 64 bits\)")],
    ),
    Row(
        "classifier_rows",
        [
            (
                lambda r, b: LeapFactual(
                    lambda images: r.classifier(images)[:1], r.vae, r.flow, inject=None
                ).explain(_x(r), 1),
                r"returned shape \(1, 10\) for a batch of 2 inputs; it must return one row",
            )
        ],
    ),
    Row(
        "probs_declared",
        [
            (
                lambda r, b: LeapFactual(
                    r.classifier, r.vae, r.flow, inject=None, outputs="probs"
                ).explain(_x(r), 1),
                r"declared to return probabilities \(outputs='probs'\), but its output for 2 of",
            ),
            (lambda r, b: as_probs(_probs(0.5, 0.6), "probs"), r"row 0 sums to 1\.1"),
        ],
    ),
    Row(
        "meta_json",
        [
            (
                lambda r, b: save_tensors(b.root / "m", {"a": torch.zeros(1)}, {"sha256": "0"}),
                r"meta keys \['sha256'\] are the sidecar's own",
            ),
            (
                lambda r, b: save_tensors(b.root / "m", {"a": torch.zeros(1)}, {"p": Path("x")}),
                r"meta p has type PosixPath, which JSON cannot hold as it is",
            ),
        ],
    ),
    Row(
        "discovery_bound",
        [
            (_few_entries("*/*.png"), r"pattern '.*\*\.png' looked at over 3 files and folders"),
            (_few_entries("many"), r"many holds over 3 entries; give a folder of images"),
        ],
    ),
    Row(
        "trajectory_mismatch",
        [
            (
                lambda r, b: build_report(Explanation.load(_mismatched_trajectory(b)), "abc", "t"),
                r"trajectory_images have shape \(2, 3, 1, 6, 6\), but its inputs are images",
            )
        ],
        [
            (
                lambda r, b: ["report", str(_mismatched_trajectory(b))],
                r"\(1, 8, 8\): the two were not made together\. Re-create the explanation",
            )
        ],
    ),
    Row(
        "saved_then_full",
        [(_full_after_saving, r"the explanation is saved complete in .*saved \(explanation\.")],
    ),
]


# -- regressors and diverse CEs -------------------------------------------------------------
def _regression_job(**settings: Any) -> Callable[..., object]:
    from leapfactual.pipeline import ExplainSettings, explain_run

    return lambda run, broken: explain_run(run, None, settings=ExplainSettings(**settings))


REGRESSION_AND_DIVERSE = [
    Row(
        "regression_target",
        [
            (_regression_job(target_value=3.0), r"--target-value / --target-shift are for a"),
            (lambda r, b: value_targets(torch.zeros(2)), r"give exactly one of --target-value"),
        ],
        [(_explain_cli("run", "--target-shift", "1"), r"for a regressor's run")],
    ),
    Row(
        "regression_method",
        [
            (lambda r, b: PixelAttack(r.classifier, outputs="value"), r"explains classifiers only"),
            (lambda r, b: OptBased(r.classifier, r.vae, outputs="value"), r"need a tolerance"),
            (lambda r, b: OptBased(r.classifier, r.vae, tolerance=0.2), r"is for regressors"),
        ],
        [(_explain_cli("run", "--tolerance", "0.2", *FAST), r"is for regressors")],
    ),
    Row(
        "diverse",
        [
            (
                lambda r, b: r.explainer("reflection").explain(_x(r), 1, diverse=2),
                r"makes one CE per input; diverse=2 needs",
            ),
            (
                lambda r, b: r.explainer(inject=None).explain(_x(r), 1, diverse=0),
                r"diverse is a number of CEs per input",
            ),
        ],
        [(_explain_cli("run", "--method", "reflection", "--diverse", "2"), r"one CE per input")],
    ),
]

ROWS = [
    Row(
        "shape",
        [
            (_explain(lambda r: torch.rand(2, 3, 28, 28)), r"takes float images \[B, 1, 28, 28\]"),
            (_explain(lambda r: torch.rand(2, 784)), r"got shape \(2, 784\)"),
        ],
        [(_report_cli("exp_channels"), r"shape \(2, 2, 8, 8\).*C = 1 \(grey\) or 3 \(RGB\)")],
    ),
    Row(
        "dtype",
        [(_explain(lambda r: (_x(r) * 255).byte()), r"float tensor .*torch\.uint8.*/ 255")],
        [(_report_cli("exp_uint8"), r"dtype torch\.uint8.*x\.float\(\) / 255")],
    ),
    Row(
        "nan",
        [
            (
                _explain(lambda r: _x(r).clone().index_fill_(0, torch.tensor([1]), float("inf"))),
                r"NaN or Inf values in 1 of 2 samples \(indices \[1\]\)",
            )
        ],
        [(_report_cli("exp_nan"), r"x_cf contains NaN or Inf")],
    ),
    Row(
        "range",
        [(_explain(lambda r: _x(r) * 255), r"values in \[0, 255\].*expects images in \[0, 1\]")],
        [
            (
                _report_cli("exp_range"),
                r"values in \[-0\.9\d*, 0\.9\d*\]; a report draws images in \[0, 1\]",
            )
        ],
    ),
    Row(
        "target_range",
        [(_explain(_x, 12), r"target classes must lie in \[0, 9\].*got \[12\]")],
        [(_explain_cli("run", "--target", "12"), r"target class 12 is outside 0-9")],
    ),
    Row(
        "condition",
        [
            (_leapfactual(MLPField(8, 5)), r"trained on a 5-class classifier.*\[B, 5\]"),
            (_wrong_encoding, r"trained with 'softmax' conditions .*from_probs / from_labels"),
        ],
        [(_explain_cli("run_cond5", *FAST), r"trained on a 5-class classifier")],
    ),
    Row(
        "latent",
        [(_leapfactual(MLPField(16, 10)), r"works on 16-d latents.*codec's latent size")],
        [(_explain_cli("run_latent", *FAST), r"works on 16-d latents")],
    ),
    Row(
        "empty",
        [(_explain(lambda r: _x(r)[:0]), r"non-empty batch.*\(0, 1, 28, 28\)")],
        [
            (
                lambda r, b: [*_explain_cli("run")(r, b), "--images", str(b.empty_images)],
                r"holds no PNG or JPEG images",
            )
        ],
    ),
    Row(
        "unknown_name",
        [
            (lambda r, b: Solver("rk5"), r"unknown solver 'rk5'; choose one of \['euler'"),
            (lambda r, b: load_dataset("mnist6k"), r"unknown dataset 'mnist6k'.*known datasets"),
            (
                lambda r, b: FlowSettings(condition="soft"),
                r"unknown flow.condition 'soft'; choose one of \['softmax', 'onehot'",
            ),
            (lambda r, b: ConditionSpec("soft", 10), r"unknown condition encoding 'soft'"),
            (_unknown_method, r"unknown method 'foo'; choose one of \['leapfactual'"),
            (
                lambda r, b: FitSettings.from_dict({"vae": {"epoch": 3}}),
                r"unknown settings \['vae.epoch'\]; known in vae: \[",
            ),
        ],
        [
            (_explain_cli("run", "--solver", "rk5"), r"unknown solver 'rk5'"),
            (_explain_cli("run", "--method", "foo"), r"unknown method 'foo'; choose one of"),
            (
                lambda r, b: ["fit", "--out", str(b.root / "out" / "fit"), "--data", "mnist6k"],
                r"unknown dataset 'mnist6k'",
            ),
            (
                lambda r, b: ["fit", "--out", str(b.root / "out" / "fit2"), "--condition", "soft"],
                r"unknown flow.condition 'soft'; choose one of \['softmax'",
            ),
            (
                lambda r, b: [*_explain_cli("run")(r, b), "--set", "blend.step=2"],
                r"unknown setting 'blend.step'; known here: \[",
            ),
        ],
    ),
    Row(
        "missing_file",
        [
            (lambda r, b: load_run(b.root / "nope"), r"not a leapfactual run \(no run.json\)"),
            (lambda r, b: load_tensors(b.root / "nope"), r"nope.safetensors does not exist"),
            (lambda r, b: Explanation.load(b.root / "nope"), r"does not exist"),
            (
                lambda r, b: load_image_files([b.root / "nope.png"]),
                r"nope.png does not exist; give image files",
            ),
        ],
        [
            (
                lambda r, b: ["explain", str(b.root / "nope"), "--out", str(b.root / "o")],
                r"not a leapfactual run \(no run.json\); create one with `leapfactual fit`",
            ),
            (lambda r, b: ["report", str(b.root / "nope")], r"explanation.safetensors does not"),
            (
                lambda r, b: [*_explain_cli("run")(r, b), "--images", str(b.root / "nope.png")],
                r"nope.png does not exist",
            ),
        ],
    ),
    Row(
        "unreadable_file",
        [
            (
                lambda r, b: load_image_files([b.root / "corrupt.png"]),
                r"cannot read image .*corrupt.png",
            ),
            (lambda r, b: load_module(b.run_truncated / "vae"), r"truncated or corrupt"),
            (lambda r, b: load_field(b.run_pickled / "flow"), r"zip archive.*never unpickles"),
        ],
        [
            (
                lambda r, b: [*_explain_cli("run")(r, b), "--images", str(b.root / "corrupt.png")],
                r"cannot read image .*corrupt.png.*fix or remove it",
            ),
            (
                _explain_cli("run_truncated"),
                r"vae.safetensors is truncated or corrupt: its header declares",
            ),
            (_report_cli("exp_truncated"), r"explanation.safetensors .*truncated or corrupt"),
            (
                _report_cli("exp_pickled"),
                r"explanation.safetensors is a zip archive .*never unpickles",
            ),
        ],
    ),
    Row(
        "other_version",
        [
            (lambda r, b: load_run(b.run_old, dataset=r.dataset), r"run format 0; .*Re-fit"),
            (lambda r, b: load_module(b.run_unknown_type / "vae"), r"unknown module type"),
        ],
        [
            (_explain_cli("run_old"), r"written by leapfactual 0.0.1 in run format 0"),
            (_explain_cli("run_unknown_type"), r"'ConvVAEv9'.*written by leapfactual 9.0"),
        ],
    ),
    Row(
        "existing_output",
        [],
        [
            (
                lambda r, b: ["explain", str(b.run), "--out", str(b.existing_out)],
                r"existing_out already exists and is not empty; .*--force",
            ),
            (
                lambda r, b: ["report", str(b.exp_good), "--out", str(b.root / "existing.html")],
                r"existing.html already exists; .*--force",
            ),
        ],
    ),
    Row(
        "classifier_pickle",
        [(lambda r, b: load_classifier(str(b.root / "model.pt")), r"refusing to load .*pickle")],
        [
            (
                lambda r, b: [
                    *FIT,
                    str(b.root / "fit_pickle"),
                    "--classifier",
                    str(b.root / "model.pt"),
                ],
                r"refusing to load .*model\.pt: it is a torch\.save archive.*torch\.export\.save",
            )
        ],
    ),
    Row(
        "classifier_changed",
        [(lambda r, b: load_run(b.run_changed), r"has SHA-256 [0-9a-f]+, but the run was fitted")],
        [(_explain_cli("run_changed"), r"re-fit it on this classifier into a new directory")],
    ),
    Row(
        "classifier_spec",
        [
            (lambda r, b: load_classifier("model.h5"), r"unknown classifier SPEC 'model\.h5'"),
            (
                lambda r, b: load_classifier("no_such_module_xyz:model"),
                r"cannot import module 'no_such_module_xyz'.*PYTHONPATH",
            ),
        ],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_spec"), "--classifier", "nope_xyz:model"],
                r"cannot import module 'nope_xyz'",
            )
        ],
    ),
    Row(
        "classifier_output",
        [
            (
                lambda r, b: LeapFactual(lambda x: (r.classifier(x),), r.vae, r.flow).explain(
                    _x(r), 1
                ),
                r"classifier returned tuple of 1 items, not a Tensor.*lambda x: model\(x\)\[0\]",
            )
        ],
    ),
    Row(
        "run_data_missing",
        [(lambda r, b: load_run(b.run_nodata).test, r"the data of run .*run_nodata.*move it back")],
        [(_explain_cli("run_nodata"), r"cannot be loaded .*needs no training data")],
    ),
    Row(
        "images_pattern",
        [(lambda r, b: load_image_inputs([str(b.root / "nope*.png")], 28, 1), "matches no PNG")],
        [
            (_explain_cli("run", "--images", "nowhere/*.png"), r"pattern .* matches no PNG"),
            (
                _explain_cli("run", "--images", "test", "--images", "x.png"),
                r"'test' and 'train' cannot be combined",
            ),
        ],
    ),
    Row(
        "settings",
        [
            (lambda r, b: FitSettings.from_dict({"vae": {"epoch": 3}}), r"unknown settings"),
            (
                lambda r, b: override(FitSettings(), {"vae.epochs": "many"}),
                r"setting vae.epochs must be an integer, got 'many'",
            ),
        ],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_set"), "--set", "vae.epoch=3"],
                r"unknown setting 'vae\.epoch'; known here: \[.*'epochs'",
            ),
            (
                lambda r, b: [*FIT, str(b.root / "fit_toml"), "--config", str(b.root / "bad.toml")],
                r"bad\.toml is not valid TOML",
            ),
        ],
    ),
    Row(
        "busy_output",
        [
            (
                lambda r, b: claim_output(b.busy_out, False).__enter__(),
                rf"busy_out is in use by another leapfactual job \(pid {os.getpid()}, explain\)",
            )
        ],
        [
            (
                lambda r, b: ["explain", str(b.run), "--out", str(b.busy_out), *FAST],
                r"busy_out is in use by another leapfactual job \(pid \d+, explain\); wait",
            )
        ],
    ),
    Row(
        "sample_order",
        [
            (
                lambda r, b: select_samples(r.explainer(inject=None).explain(_x(r), 1), 1, "worst"),
                r"unknown sample order 'worst'; choose one of failures, random",
            )
        ],
        [(_explain_cli("run", "--order", "worst"), r"unknown sample order 'worst'")],
    ),
    Row(
        "big_image",
        [
            (
                lambda r, b: load_image_inputs([str(b.root / "bomb.png")], 28, 1),
                r"decompression-bomb limit",
            )
        ],
        [
            (
                lambda r, b: _explain_cli("run", "--images", str(b.root / "bomb.png"))(r, b),
                r"bomb\.png has 90,000,000 pixels",
            )
        ],
    ),
    *HARDENING,
    *REGRESSION_AND_DIVERSE,
    *HARDENING_THREE,
    Row(
        "schedule_settings",
        [
            (lambda r, b: Solver("rk4", checkpoints=5), r"checkpoints apply to adaptive solvers"),
            (lambda r, b: Solver("dopri5", checkpoints=1), r"checkpoints must be >= 2"),
            (lambda r, b: Blend(settle=float("nan")), r"finite tol > 0 and settle > 0"),
            (lambda r, b: Blend(boost=0.0), r"finite gamma > 0 and boost > 0"),
            (
                lambda r, b: FlowSettings(condition_on="labels"),
                r"unknown flow.condition_on 'labels'; choose one of \['reconstruction', 'input'\]",
            ),
        ],
        [
            (
                _explain_cli("run", "--solver", "rk4", "--solver-checkpoints", "5"),
                r"checkpoints apply to adaptive solvers",
            ),
            (_explain_cli("run", "--boost", "0"), r"boost > 0"),
        ],
    ),
    Row(
        "codec_settings",
        [
            (
                lambda r, b: VAESettings(grad_clip=-1.0),
                r"vae\.grad_clip must be a finite number >= 0",
            ),
            (
                lambda r, b: VAESettings(beta=float("nan")),
                r"vae\.beta must be a finite number >= 0",
            ),
            (
                lambda r, b: fit(
                    nn.Linear(1, 1),
                    [torch.zeros(2, 1)],
                    lambda batch, g: batch[0].sum(),
                    epochs=1,
                    batch_size=2,
                    lr=1e-3,
                    max_grad_norm=0.0,
                ),
                r"max_grad_norm must be a finite number > 0 or None",
            ),
        ],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_clip"), "--set", "vae.grad_clip=-1"],
                r"vae\.grad_clip must be a finite number",
            ),
        ],
    ),
    Row(
        "codec_agreement",
        [
            (
                lambda r, b: VAESettings(agreement=-1.0),
                r"vae\.agreement must be a finite number >= 0",
            ),
            (
                lambda r, b: fit_vae(torch.rand(4, 1, 8, 8), VAESettings(agreement=0.1), 0),
                r"vae\.agreement > 0 needs the classifier",
            ),
            (
                lambda r, b: fit_vae(
                    torch.rand(4, 1, 8, 8),
                    VAESettings(kind="resnet", width=4, epochs=1, agreement=0.1, min_steps=0),
                    0,
                    classifier=lambda x: torch.zeros(len(x), 2),
                ),
                r"needs gradients through the classifier.*export it with torch\.export",
            ),
        ],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_agree"), "--set", "vae.agreement=nan"],
                r"vae\.agreement must be a finite number",
            ),
        ],
    ),
    Row(
        "codec_work_size",
        [
            (
                lambda r, b: VAESettings(kind="conv", work_size=32),
                r"vae\.work_size is an option of vae\.kind = 'resnet', not 'conv'",
            ),
            (
                lambda r, b: ResVAE(3, 128, work_size=256),
                r"work_size must be at most image_size \(128\), got 256; leave it unset",
            ),
        ],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_work"), "--set", "vae.work_size=4"],
                r"vae\.work_size must be a whole number of pixels >= 8, got 4",
            ),
        ],
    ),
    Row(
        "nonfinite_mode",
        [
            (
                lambda r, b: ExplainSettings(nonfinite="skip"),
                r"nonfinite must be one of error, invalid \(what a NaN .*\), got 'skip'",
            ),
            (lambda r, b: r.explainer().set_nonfinite("skip"), r"nonfinite must be one of"),
        ],
        [(_explain_cli("run", "--nonfinite", "skip"), r"nonfinite must be one of error, invalid")],
    ),
    Row(
        "shortcut_teacher",
        [
            (
                lambda r, b: check_teacher([_relied(0.8)], "ModelTeacher"),
                r"the teacher \(ModelTeacher\) shares the shortcut: cell r3c3 toward 1 copied "
                r"into 8 held-out images of other classes moves 80% of them to class 1 .*"
                r"--allow-shortcut-teacher",
            )
        ],
    ),
    Row(
        "ignore_region",
        [
            (lambda r, b: parse_region("top-left", (28, 28)), r"is no mask file, box or"),
            (lambda r, b: parse_region("10,10,40,12", (28, 28)), r"is not inside the 28x28"),
            (lambda r, b: parse_region(_mask(b, 16), (28, 28)), r"is 16x16 pixels, the run's"),
            (lambda r, b: parse_region(str(b.root / "none.png"), (28, 28)), r"no such mask"),
        ],
        [(_repair_cli("--teacher", "rule", "--ignore-region", "1,2,3"), r"is no mask file, box")],
    ),
    Row(
        "ignore_region_teacher",
        [
            (
                lambda r, b: make_teacher("model", r, ignore_region="0,0,2,2"),
                r"--ignore-region makes the rule teacher",
            )
        ],
        [
            (
                _repair_cli("--teacher", "model", "--ignore-region", "0,0,2,2"),
                r"--ignore-region makes the rule teacher",
            )
        ],
    ),
    Row(
        "ignore_candidate",
        [(lambda r, b: candidate_parts(*_no_candidate()), r"found no shortcut candidate")],
    ),
    Row(
        "ignore_teacher",
        [
            (lambda r, b: IgnoreTeacher(r.classifier), r"needs a region \(mask\) or global edits"),
            (lambda r, b: IgnoreTeacher(r.classifier, torch.ones(28, 28)), r"mask must be a bool"),
            (lambda r, b: IgnoreTeacher(r.classifier, None, ("sepia",)), r"unknown global edits"),
        ],
    ),
    Row(
        "global_edits",
        [
            (
                lambda r, b: necessity(r.classifier, _x(r), _x(r), 1, edits=("sepia",)),
                r"unknown global edits \['sepia'\]; choose from",
            )
        ],
    ),
    Row(
        "per_class_labels",
        [(lambda r, b: audit_inputs(r, [_flat(b)], 3, per_class=1), r"--per-class needs images")],
        [
            (
                lambda r, b: [
                    "audit",
                    str(b.run),
                    "--out",
                    str(b.root / "out" / "per-class"),
                    "--images",
                    _flat(b),
                    "--per-class",
                    "1",
                ],
                r"--per-class needs images",
            )
        ],
    ),
]


# -- bring your own models (rows 50-62) -----------------------------------------------------
MNIST_FIT = ["fit", "--data", "mnist5k", "--out"]


def _fit_own(model: str, *extra: str, fit: list[str] = MNIST_FIT) -> Callable[..., list[str]]:
    def args(run: Any, broken: Any) -> list[str]:
        out = broken.root / "out" / f"{next(_OUTS)}-fit"
        return [*fit, str(out), "--classifier", str(broken.root / model), *extra]

    return args


def _probe(model: str, **options: Any) -> Callable[..., object]:
    def call(run: Any, broken: Any) -> object:
        loaded = load_classifier(str(broken.root / model), **options)
        return probe_classifier(
            loaded.model, _x(run), spec=loaded.spec, class_names=run.class_names
        )

    return call


def _planted(run: Any, broken: Any) -> object:
    sys.path.insert(0, str(broken.run_planted))  # as `python -m` from the run's directory
    try:
        return load_run(broken.run_planted)
    finally:
        sys.path.remove(str(broken.run_planted))


ROWS += [
    Row(
        "preprocess",
        [
            (lambda r, b: Preprocess(std=(0.0,)), r"classifier\.preprocess\.std must be positive"),
            (
                lambda r, b: Preprocess(mean=(0.5, 0.5, 0.5)).check_channels(1),
                r"mean has 3 values, but the images have 1 channel",
            ),
        ],
        [
            (
                _fit_own("three.pt", "--set", "classifier.preprocess.std=[0]"),
                r"classifier\.preprocess\.std must be positive",
            ),
            (
                _fit_own("three.pt", "--set", "classifier.preprocess.mean=[0.5, 0.5, 0.5]"),
                r"mean has 3 values, but the images have 1 channel",
            ),
        ],
    ),
    Row(
        "output_choice",
        [
            (
                _probe("three.pt"),
                r"returned 3 outputs, not one Tensor: \[0\] \(1, 4\), \[1\] \(1, 10\), "
                r"\[2\] \(1, 2\); .*classifier\.output=INDEX",
            ),
            (_probe("three.pt", output="5"), r"output = '5' names none of the outputs"),
        ],
        [(_fit_own("three.pt"), r"returned 3 outputs, not one Tensor: \[0\] \(1, 4\)")],
    ),
    Row(
        "probe_classes",
        [(_probe("three.pt", output="0"), r"returns 4 scores per image, but the data has 10")],
        [
            (
                _fit_own("three.pt", "--set", "classifier.output=0"),
                r"returns 4 scores per image, but the data has 10 classes",
            ),
        ],
    ),
    Row(
        "probe_nonfinite",
        [(_probe("nan.pt"), r"NaN or infinite outputs for 1 of 1 probe image\(s\) before any")],
        [(_fit_own("nan.pt"), r"NaN or infinite outputs .* before any training")],
    ),
    Row(
        "static_batch",
        [(_probe("classifier.pt2"), r"fixed batch size of 2 .*dynamic_shapes=")],
        [(_fit_own("classifier.pt2"), r"exported with a fixed batch size of 2 .*Dim\('batch'\)")],
    ),
    Row(
        "onnx_input",
        [(_probe("digits.onnx"), r"takes input 'X' of shape \['\?', 64\].*flatten")],
        [
            (
                _fit_own("digits.onnx", fit=FIT),
                r"shape \['\?', 64\], but gets images of shape \[1, 1, 8, 8\]; set "
                r"classifier\.preprocess\.flatten = true",
            )
        ],
    ),
    Row(
        "probs_mismatch",
        [
            (_probe("probs.pt2"), r"returns probabilities .*classifier\.outputs = 'probs'"),
            (
                lambda r, b: probe_classifier(r.classifier, _x(r), spec="m", outputs="probs"),
                r"rows that are not probabilities.*'logits'",
            ),
        ],
        [(_fit_own("probs.pt2"), r"returns probabilities \(every row in \[0, 1\], summing")],
    ),
    Row(
        "model_failed",
        [
            (
                lambda r, b: load_classifier(str(b.root / "damaged.pt2")),
                r"cannot load .*damaged\.pt2 as a TorchScript or torch\.export file",
            ),
            (_probe("rgb_only.pt"), r"rgb_only\.pt failed while probing it with a batch of 1"),
        ],
        [
            (_fit_own("damaged.pt2"), r"cannot load .*damaged\.pt2 as .*export the model again"),
            (_fit_own("rgb_only.pt"), r"failed while probing .*takes RGB images"),
        ],
    ),
    Row(
        "planted_module",
        [(_planted, r"never makes leapfactual import code from the run's or the working")],
    ),
    Row(
        "codec_spec",
        [
            (lambda r, b: load_codec("vae.ckpt"), r"unknown codec SPEC 'vae\.ckpt'; give"),
            (lambda r, b: load_codec(str(b.root)), r"has no config\.json; a codec directory is"),
            (
                lambda r, b: FitSettings(flow=FlowSettings(field="unet2d")),
                r"flow\.field = 'unet2d' works on spatial latents .*--codec",
            ),
        ],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_codec"), "--codec", "nope_xyz:codec"],
                r"cannot import module 'nope_xyz' of codec 'nope_xyz:codec'",
            ),
            (
                lambda r, b: [*FIT, str(b.root / "fit_unet2d"), "--set", "flow.field=unet2d"],
                r"flow\.field = 'unet2d' works on spatial latents",
            ),
        ],
    ),
    Row(
        "aspect",
        [
            (lambda r, b: FitSettings(aspect="fit"), r"unknown aspect 'fit'; choose one of"),
            (lambda r, b: parse_size("24x"), r"--image-size takes a side \(64\) or HEIGHTxWIDTH"),
        ],
        [
            (
                lambda r, b: [
                    *("fit", "--data", f"image-folder:{b.root / 'lines'}", "--out"),
                    *(str(b.root / "fit_lines"), "--image-size", "24x48"),
                ],
                r"the images are 24x48 px \(height x width\), but the VAE \(bring a codec: "
                r"--codec\), the classifier the run trains .* take square images only",
            ),
            (lambda r, b: [*FIT, str(b.root / "fit_size"), "--image-size", "24x"], r"HEIGHTxWIDTH"),
        ],
    ),
    Row(
        "behaviour_changed",
        [(lambda r, b: load_run(b.run_swapped), r"answers the run's probe images differently")],
        [(_explain_cli("run_swapped"), r"the model changed although its files did not")],
    ),
]


# -- trust before validity (issue 26) -------------------------------------------------------
def _damaged_verdict(run: Any, broken: Any) -> object:
    import json
    import shutil

    copy = broken.root / "bad_verdict"
    if not copy.exists():
        shutil.copytree(broken.run, copy)
        meta = json.loads((copy / "run.json").read_text())
        meta["verdict"] = {"level": "fine", "checks": []}
        (copy / "run.json").write_text(json.dumps(meta))
    return load_run(copy, dataset=run.dataset)


def _chance_fit(run: Any, broken: Any) -> object:
    chance = ClassifierSettings(width=4, epochs=1, lr=1e-12, min_steps=0)  # answers one class
    config = FitSettings(data="digits", classifier=chance)
    return fit_run(broken.root / "fit_chance_api", config, stages=("classifier",))


TRUST = [
    Row(
        "min_steps",
        [(lambda r, b: VAESettings(min_steps=-1), r"vae\.min_steps must be a whole number >= 0")],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_steps"), "--set", "flow.min_steps=-5"],
                r"flow\.min_steps must be a whole number >= 0, got -5",
            )
        ],
    ),
    Row(
        "auto_work_size",
        [
            (
                lambda r, b: VAESettings(work_size=16).for_images(1, 28),
                r"vae\.kind = 'auto' picks 'conv' for 1 x 28 x 28 images; set vae\.kind",
            )
        ],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_auto"), "--set", "vae.work_size=8"],
                r"vae\.kind = 'auto' picks 'conv' for 1 x 8 x 8 images",
            )
        ],
    ),
    Row(
        "chance_classifier",
        [(_chance_fit, r"close to chance .*classifier\.accept_chance=true")],
        [
            (
                lambda r, b: [
                    *FIT,
                    str(b.root / "fit_chance"),
                    "--stages",
                    "classifier",
                    "--set",
                    "classifier.lr=1e-12",
                    "--set",
                    "classifier.min_steps=0",
                ],
                r"the classifier is close to chance on the run's labelled held-out images",
            )
        ],
    ),
    Row(
        "vae_collapse",
        [
            (
                lambda r, b: fit_vae(
                    torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0)),
                    VAESettings(kind="conv", latent_dim=2, width=4, min_steps=300, batch_size=16),
                    0,
                ),
                r"the VAE collapsed: after \d+ of \d+ epochs its reconstructions keep",
            )
        ],
        [
            (
                lambda r, b: [
                    *FIT,
                    str(b.root / "fit_collapse"),
                    "--stages",
                    "vae",
                    "--set",
                    "vae.beta=50",
                ],
                r"the VAE collapsed.*--set vae\.probe=false to train on regardless",
            )
        ],
    ),
    Row(
        "verdict_schema",
        [(_damaged_verdict, r"'verdict' must be null or an object \(level trusted")],
    ),
]
ROWS += TRUST

FIT_TO_QUALITY = [  # issue 31, item 2: early stopping
    Row(
        "patience",
        [
            (
                lambda r, b: VAESettings(patience=-1),
                r"vae\.patience must be a whole number of epochs >= 0 \(0: no early stopping\)",
            ),
            (
                lambda r, b: ClassifierSettings(patience=1.5),
                r"classifier\.patience must be a whole",
            ),
        ],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_patience"), "--set", "flow.patience=-2"],
                r"flow\.patience must be a whole number of epochs >= 0 \(0: no early "
                r"stopping\), got -2",
            )
        ],
    ),
    Row(
        "min_improvement",
        [
            (
                lambda r, b: FlowSettings(min_improvement=float("nan")),
                r"flow\.min_improvement must be a finite fraction in \[0, 1\)",
            ),
            (
                lambda r, b: ClassifierSettings(min_improvement=1.0),
                r"classifier\.min_improvement must be a fraction in \[0, 1\)",
            ),
        ],
        [
            (
                lambda r, b: [
                    *FIT,
                    str(b.root / "fit_improve"),
                    "--set",
                    "vae.min_improvement=-0.1",
                ],
                r"vae\.min_improvement must be a fraction in \[0, 1\) \(e\.g\. 0\.01\), got -0\.1",
            )
        ],
    ),
    Row(
        "holdout_too_small",
        [
            (
                lambda r, b: fit_classifier(
                    torch.rand(1, 1, 8, 8),
                    torch.zeros(1, dtype=torch.long),
                    2,
                    ClassifierSettings(width=4, patience=2, min_steps=0),
                    0,
                ),
                r"early stopping holds out part of the training data, and there are 1 samples; "
                r"set patience = 0",
            )
        ],
    ),
]
ROWS += FIT_TO_QUALITY


# -- where users work: logging, tracking, a CLI that tells (issue 32) -----------------------
WHERE_USERS_WORK = [
    Row(
        "track_spec",
        [
            (lambda r, b: tracker("wandb:runs"), r"--track takes tensorboard:DIR or mlflow:DIR"),
            (
                lambda r, b: tracker(f"tensorboard:{b.root / 'existing.html'}"),
                r"existing\.html is a file; name a directory",
            ),
        ],
        [
            (
                lambda r, b: [*FIT, str(b.root / "fit_track"), "--track", "tensorboard"],
                r"--track takes tensorboard:DIR or mlflow:DIR \(or mlflow:URI\), got 'tensorb",
            )
        ],
    ),
    Row(
        "callback_methods",
        [
            (
                lambda r, b: r.explainer(inject=None).explain(_x(r), 1, callbacks=[print]),
                r"a callback needs on_train_batch, on_train_epoch and on_explain_batch; "
                r"builtin_function_or_method lacks some",
            )
        ],
    ),
    Row(
        "unquoted_glob",
        [],
        [
            (
                lambda r, b: [
                    *("explain", str(b.run), "--out", str(b.root / "out" / "glob")),
                    *("--images", str(b.root / "a.png"), str(b.root / "b.png")),
                ],
                r"got 1 more path\(s\) after the run directory \(.*b\.png\): an unquoted glob .*"
                r"quote it \(--images 'imgs/\*\.png'\) or repeat --images before each path",
            )
        ],
    ),
    Row(
        "thumb_size",
        [
            (
                lambda r, b: check_thumb_size(4),
                r"thumbnail size must be a whole number of pixels from 8 to 512, got 4",
            )
        ],
    ),
]
ROWS += WHERE_USERS_WORK


# -- parameters stated once (issue 30, step 6) ----------------------------------------------
class _Loose(nn.Module):
    def __init__(self, width: int, **options: Any) -> None:
        super().__init__()


class _Forgetful(Explainer):
    def __init__(self, classifier: Any, alpha: float = 1.0) -> None:
        super().__init__(classifier)

    def explain_batch(self, x: Any, target: Any, probs: Any, cost: Any) -> Any:
        raise AssertionError("refused before any work")


PARAMETERS_ONCE = [
    Row(
        "register_loose",
        [(lambda r, b: register(_Loose), r"_Loose\.__init__ takes \*\*options: a registered")],
    ),
    Row(
        "explainer_attribute",
        [
            (
                lambda r, b: _Forgetful(r.classifier).explain(_x(r), 1),
                r"_Forgetful keeps no attribute 'alpha' for its constructor argument alpha: .*"
                r"set self\.alpha in _Forgetful\.__init__, or add 'alpha' to _Forgetful",
            )
        ],
    ),
    Row(
        "codec_methods",
        [
            (
                lambda r, b: encode_decode({}, _x(r)),
                r"the codec must have encode\(x\) -> z and decode\(z\) -> x methods, got dict",
            )
        ],
    ),
]


# -- one training door, one name per setting (issue 30, steps 5 and 7) ---------------------
ONE_DOOR = [
    Row(
        "renamed_setting_twice",
        [
            (
                lambda r, b: FitSettings.from_dict({"flow": {"batch": 64, "batch_size": 32}}),
                r"settings flow\.batch and flow\.batch_size are one setting \(batch is its old "
                r"name\); give flow\.batch_size only",
            )
        ],
        [
            (
                lambda r, b: [
                    *(*FIT, str(b.root / "fit_renamed"), "--set", "vae.batch=16"),
                    *("--set", "vae.batch_size=8"),
                ],
                r"settings vae\.batch and vae\.batch_size are one setting",
            )
        ],
    ),
]
ROWS += PARAMETERS_ONCE
ROWS += ONE_DOOR


# -- a repair you can verify, round two: rounds until reliance stops falling (issue 29) ------
def _not_relied() -> list[CandidateReliance]:
    return [CandidateReliance(Finding(1, "1", "toward", "r3c3", 0.9, 10, True), {"model": 0.05})]


UNTIL_STABLE = [
    Row(
        "rounds_value",
        [
            (
                lambda r, b: parse_rounds("three"),
                r"--rounds must be a positive whole number or 'auto' \(rounds until reliance on "
                r"the audit's candidates stops falling, at most 8\), got 'three'",
            )
        ],
        [
            (
                _repair_cli("--teacher", "rule", "--ignore-region", "0,0,2,2", "--rounds", "0"),
                r"--rounds must be a positive whole number or 'auto'",
            )
        ],
    ),
    Row(
        "rounds_auto_nothing_relied",
        [
            (
                lambda r, b: reliance_measure(_not_relied(), [], _x(r), torch.zeros(2), (0, 1)),
                r"--rounds auto repeats rounds until reliance on the audit's shortcut candidates "
                r"stops falling, but the model relies on none of them",
            )
        ],
    ),
    Row(
        "until_stable_measure",
        [
            (
                lambda r, b: cfkd(
                    r.classifier,
                    r.explainer,
                    r.train,
                    TargetTeacher(),
                    CFKDSettings(until_stable=True),
                ),
                r"until_stable stops when reliance on the shortcut stops falling: give reliance=",
            )
        ],
    ),
]
ROWS += UNTIL_STABLE

CLI_CASES = [(row.id, i) for row in ROWS for i in range(len(row.cli))]
"""Every command line of every row (taken after the last rows are added)."""
WHERE_CASES = [(row.id, i) for row in WHERE_USERS_WORK for i in range(len(row.cli))]


@pytest.mark.parametrize("row", [r for r in ROWS if r.api], ids=lambda r: r.id)
def test_api_names_the_problem(row: Row, tiny_run, broken) -> None:
    run = load_run(broken.run, dataset=tiny_run.dataset)
    for call, message in row.api:
        with pytest.raises(USER_ERRORS, match=message):
            call(run, broken)


@pytest.fixture(scope="module")
def cli_results(cli, tiny_run, broken) -> dict[tuple[str, int], Any]:
    """Every command line of the table, and the target-equals-source one."""
    cases = {
        (row.id, i): args(tiny_run, broken) for row in ROWS for i, (args, _) in enumerate(row.cli)
    }
    cases[("target_source", 0)] = same_target_command(tiny_run, broken)
    return {case: cli(*argv) for case, argv in cases.items()}


def assert_one_line_error(result: Any, message: str) -> None:
    err = result.stderr
    assert result.returncode == 2, f"exit {result.returncode} for {result.argv}:\n{err[-2000:]}"
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and err.rstrip().endswith(errors[0]), err
    assert re.search(message, errors[0]), f"{errors[0]!r} does not match {message!r}"


@pytest.mark.parametrize("case", CLI_CASES, ids=[f"{r}-{i}" for r, i in CLI_CASES])
def test_cli_one_line_and_exit_2(case: tuple[str, int], cli_results) -> None:
    row = next(r for r in ROWS if r.id == case[0])
    assert_one_line_error(cli_results[case], row.cli[case[1]][1])


@pytest.mark.parametrize("case", WHERE_CASES, ids=[f"{r}-{i}" for r, i in WHERE_CASES])
def test_where_users_work_refuses_before_any_output(case: tuple[str, int], cli_results) -> None:
    argv = cli_results[case].argv
    assert not Path(argv[argv.index("--out") + 1]).exists()  # refused before any training


def test_existing_outputs_are_left_alone(broken, cli_results) -> None:
    assert (broken.existing_out / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in broken.existing_out.iterdir()) == ["keep.txt"]
    assert (broken.root / "existing.html").read_text() == "<p>precious</p>"


# -- target equal to source: allowed --------------------------------------------------------
def same_target_command(run: Any, broken: Any) -> list[str]:
    """Explain three test digits toward the class of the first: it is its own class."""
    with torch.no_grad():
        first = int(run.classifier(run.test.images[:1]).argmax())
    out = broken.root / "out" / "same"
    return [
        *("explain", str(broken.run), "--out", str(out), "--limit", "3"),
        *("--target", str(first), *FAST),
    ]


def test_target_equal_to_source_is_allowed(tiny_run, broken, cli_results) -> None:
    run = load_run(broken.run, dataset=tiny_run.dataset)
    x = _x(run)
    with torch.no_grad():
        source = run.classifier(x).argmax(1)
    exp = run.explainer(inject=None).explain(x, source)
    assert torch.equal(exp.target, exp.source)
    assert exp.valid.dtype == torch.bool and exp.valid.shape == (2,)
    assert torch.equal(exp.valid, exp.probs_cf.argmax(1) == source)

    done = cli_results[("target_source", 0)]
    assert done.returncode == 0, done.stderr[-2000:]
    saved = Explanation.load(Path(done.argv[3]))
    assert len(saved) == 3 and bool((saved.target == saved.source)[0])


# -- the real process, --debug and usage errors ---------------------------------------------
def test_real_process_exits_2_with_one_line(broken) -> None:
    args = ["report", str(broken.exp_nan)]
    plain = subprocess.run(
        [sys.executable, "-m", "leapfactual", *args], capture_output=True, text=True, timeout=300
    )
    result = SimpleNamespace(argv=args, returncode=plain.returncode, stderr=plain.stderr)
    assert_one_line_error(result, "NaN or Inf")
    assert plain.stderr.count("\n") == 1


def test_debug_lets_the_exception_through(cli, broken) -> None:
    debug = cli("--debug", "report", str(broken.exp_nan))
    assert debug.returncode == 1  # main did not turn it into exit code 2
    assert "Traceback" in debug.stderr and "ValueError: the explanation's x_cf" in debug.stderr


def test_usage_errors_exit_2_without_traceback(cli) -> None:
    done = cli("explain", "--no-such-option")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "No such option" in done.stderr


# -- the doc --------------------------------------------------------------------------------
def test_every_row_of_the_doc_is_tested() -> None:
    ids = re.findall(r"^\|[^|\n]*\|[^\n]*`([a-z_]+)` \|\s*$", DOC.read_text(), flags=re.M)
    assert sorted(ids) == sorted([r.id for r in ROWS] + ["target_source"])


def test_other_float_dtypes_run_in_the_models_dtype(tiny_run) -> None:
    x = tiny_run.test.images[:2]
    explainer = tiny_run.explainer(inject=None)
    single = explainer.explain(x, 1)
    double = explainer.explain(x.double(), 1)
    assert double.x_cf.dtype == torch.float64 and double.x.dtype == torch.float64
    assert torch.allclose(double.x_cf.float(), single.x_cf, atol=1e-6)


def test_models_without_a_declared_range_are_not_range_checked(tiny_run) -> None:
    x = tiny_run.test.images[:2] * 1.5  # outside [0, 1]
    with pytest.raises(ValueError, match=r"expects images in \[0, 1\]"):
        tiny_run.explainer(inject=None).explain(x, 1)

    class Clamped:  # a codec of the user's own, with no input_range
        def encode(self, images: torch.Tensor) -> torch.Tensor:
            return tiny_run.vae.encode(images.clamp(0, 1))

        def decode(self, z: torch.Tensor) -> torch.Tensor:
            return tiny_run.vae.decode(z)

    def classifier(images: torch.Tensor) -> torch.Tensor:
        return tiny_run.classifier(images.clamp(0, 1))

    exp = LeapFactual(classifier, Clamped(), tiny_run.flow, inject=None).explain(x, 1)
    assert torch.isfinite(exp.x_cf).all()
