"""The ``repair`` command: counterfactual knowledge distillation (CFKD) on a run's classifier."""

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from leapfactual.audit import AUDIT_LIMIT, AUTO_ROUNDS, STABLE, CFKDSettings, parse_rounds
from leapfactual.cli.common import Device, Seed

_D = CFKDSettings()


def repair(
    run: Annotated[Path, typer.Argument(help="Run directory made by `leapfactual fit`.")],
    out: Annotated[
        Path,
        typer.Option(
            help="Output directory: every round (round-K/), the repaired classifier, "
            "repair.json and repair.md. Running again continues after the last finished round."
        ),
    ],
    teacher: Annotated[
        str,
        typer.Option(
            help="Who labels the CEs: 'rule' (--ignore-region, or a labelling function), "
            "'model' (an oracle classifier) or 'human' (a page on 127.0.0.1). A teacher that "
            "relies on a shortcut candidate of the audit is refused."
        ),
    ],
    ignore_region: Annotated[
        str | None,
        typer.Option(
            help="rule without code: the run's classifier shown each CE with this region put "
            "back to the input: a PNG mask of the image size (bright = irrelevant), a box "
            "x0,y0,x1,y1 in pixels (0,0 top left, ends excluded) or 'candidate' (the audit's "
            "shortcut candidates, global edits included) [default: none]."
        ),
    ] = None,
    teacher_spec: Annotated[
        str | None,
        typer.Option(
            help="rule: package.module:function (images -> [B, K] scores); model: 'oracle' "
            "(the run's oracle stage), a checkpoint such as OTHER_RUN/classifier, or a "
            "classifier spec (.pt2, TorchScript, .onnx, entry point) [default: oracle for "
            "--teacher model, none otherwise]."
        ),
    ] = None,
    answers: Annotated[
        Path | None,
        typer.Option(help="human: where the answers are saved [default: OUT/answers.jsonl]."),
    ] = None,
    port: Annotated[int, typer.Option(min=0, help="human: port of the page (0: any).")] = 0,
    open_browser: Annotated[bool, typer.Option(help="human: open the page.")] = False,
    rounds: Annotated[
        str,
        typer.Option(
            help=f"CFKD rounds, or 'auto': rounds until the model's reliance on the audit's "
            f"shortcut candidates falls by less than {STABLE:.0%} in a round (at most "
            f"{AUTO_ROUNDS}; the cost is printed)."
        ),
    ] = str(_D.rounds),
    per_round: Annotated[
        int, typer.Option(min=1, help="Training images explained per round.")
    ] = _D.per_round,
    epochs: Annotated[int, typer.Option(min=1, help="Fine-tuning epochs per round.")] = _D.epochs,
    lr: Annotated[float, typer.Option(min=0.0, help="Fine-tuning learning rate.")] = _D.lr,
    reliable: Annotated[
        bool, typer.Option(help="Teach with reliable CEs instead of minimal ones.")
    ] = False,
    counterexamples: Annotated[
        bool,
        typer.Option(
            help="Also train on each change the teacher judged a shortcut, added to and taken "
            "from other training images that keep their own class (no label asked)."
        ),
    ] = _D.counterexamples,
    test_data: Annotated[
        str | None,
        typer.Option(
            help="Dataset spec to compare on (e.g. one where the nuisance is decorrelated) "
            "[default: the run's test split]."
        ),
    ] = None,
    audit_limit: Annotated[
        int, typer.Option(min=1, help="Test images audited for shortcut candidates first.")
    ] = AUDIT_LIMIT,
    allow_shortcut_teacher: Annotated[
        bool,
        typer.Option(help="Label with a teacher even where it relies on a shortcut candidate."),
    ] = False,
    seed: Seed = 0,
    force: Annotated[
        bool, typer.Option(help="Start over in an existing output (a person's answers stay).")
    ] = False,
    device: Device = None,
) -> None:
    """Audit the run for shortcut candidates, check the teacher, fine-tune the run's
    classifier on CEs it labels (CFKD: a CE whose change is a shortcut keeps its source
    class), and compare before and after: accuracy, reliance on each candidate and a verdict;
    the repaired classifier is written as a run (OUT/run) and audited (OUT/audit-after: the
    verdict's reliance figures)."""
    count, until_stable = parse_rounds(rounds)
    settings = CFKDSettings(
        rounds=count,
        until_stable=until_stable,
        per_round=per_round,
        epochs=epochs,
        lr=lr,
        reliable=reliable,
        counterexamples=counterexamples,
        needed=teacher == "human",
        seed=seed,
    )  # bad settings: refused before torch loads
    from leapfactual.audit import ANSWERS, make_teacher, repair_run
    from leapfactual.pipeline import load_run

    fitted = load_run(run, device=device or "cpu")
    judge = make_teacher(
        teacher,
        fitted,
        teacher_spec,
        ignore_region=ignore_region,
        answers=answers or out / ANSWERS,
        port=port,
        open_browser=open_browser,
        device=device or "cpu",
    )
    result = repair_run(
        fitted,
        out,
        judge,
        settings,
        test=test_data,
        audit_limit=audit_limit,
        allow_shortcut_teacher=allow_shortcut_teacher,
        force=force,
        device=device,
        command="leapfactual " + shlex.join(sys.argv[1:]),
    )
    for label, scores in (("before", result.before), ("after", result.after)):
        typer.echo(
            f"{label:6s} accuracy {scores['accuracy']:.3f}  worst class {scores['worst_class']:.3f}"
        )
    typer.echo(
        f"{result.cfkd.labels_used} teacher labels, {result.cfkd.kept_source} kept their source"
    )
    for row in result.reliance:
        values = "  ".join(f"{k} {v:.0%}" for k, v in row.values.items() if v == v)
        typer.echo(f"reliance on {row.finding.phrase}: {values}")
    typer.echo(f"verdict: {result.verdict} ({result.reason})")
    history = result.cfkd.history
    labelled = sum(r["asked"] for r in history)
    typer.echo(
        f"cost: {result.seconds:.0f} s in all; {len(history)} round(s) of {settings.per_round} "
        f"images{' (until reliance stopped falling)' if until_stable else ''}, {labelled} CEs "
        f"labelled, {sum(r['seconds'] for r in history):.0f} s in CFKD"
    )
    typer.echo(
        f"repaired run: {result.run}; its audit, which the verdict reads: "
        f"{result.out / 'audit-after'} (again: leapfactual audit {result.run} --out DIR "
        f"--limit {audit_limit} --seed {seed})"
    )
    typer.echo(f"page: {result.page}")
