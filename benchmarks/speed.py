"""Speed of every way to make a counterfactual, side by side on the same models and inputs.

    python benchmarks/speed.py [--limit 500] [--run runs/bench-mnist5k] [--device auto]

(``make bench``). Every row is a registered method (:mod:`leapfactual.explain.registry`) with
its options, built by ``Run.explainer``, and runs in its own fresh subprocess (so its peak
resident memory is its own), one after another in one invocation. Each row prints its time per
CE, its evaluations per CE (the explanation's ``Cost``: encoder, decoder, classifier, field,
gradient steps) and the ratio of its time to its own *model-pass bound*: the same number of
encoder, decoder and classifier passes as its cost counts, timed alone in the same process on
the same inputs at the same batch size, right after the method (no flow, no solver, no
gradients, no bookkeeping), and to its field evaluations alone. Every timing is taken twice:
CPU time of the process (``time.process_time``, which other work on a shared machine barely
changes) and wall time. Fast rows run the method and then its bound ``--repeats`` times:
times are the median run, ratios the median of the pairs (a method run against the bound
timed right after it), with their range.

Two methods are compared only in one process (:func:`compare`): they run alternately
(A B, then B A, ...) on the same inputs, and each ratio is B over A within one round; the
page gives the median and range of those ratios, never a ratio of times from separate
processes. The load average is recorded at the start and the end.

Then the stopping rules of blending (:mod:`leapfactual.experiments.schedules`) against the
paper schedule on the Morpho-MNIST and thickness benchmarks' runs (fitted or reused), and the
peak memory of LeapFactual on 1k vs 20k images. Everything is written to
``docs/results/speed.md`` (``--out``). ``--device auto`` (the default) measures on the GPU
when one is present, else on the CPU; every row records the device that produced it (peak
memory is the process's resident memory, so host memory only).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from typing import Any, NamedTuple

import torch

ROWS: dict[str, tuple[str, str]] = {  # row -> (registry name, what this row runs)
    "leapfactual": (
        "leapfactual",
        "paper schedule, our solver (RK4, 4 steps per lift / land)",
    ),
    "leapfactual-settle": (
        "leapfactual",
        "boost 4 until in the target class, then stop once p(target) settled (ours)",
    ),
    "leapfactual-early": ("leapfactual", "paper schedule + stop on latent movement (tol 1e-3)"),
    "leapfactual-reference": (
        "leapfactual",
        "paper schedule, the paper's integration (dopri5, atol = rtol = 1e-4, 5 checkpoints)",
    ),
    "leapfactual-midpoint": (
        "leapfactual",
        "paper schedule, midpoint solver (4 steps per lift / land: half the field evaluations)",
    ),
    "leapfactual-contiguous": (
        "leapfactual",
        "paper schedule, RK4, built-in models with contiguous weights (before channels-last)",
    ),
    "leapfactual-authors": (
        "leapfactual",
        "paper schedule, the authors' per-step loop written plainly here (dopri5, atol = rtol "
        "= 1e-4, 5 checkpoints)",
    ),
    "leapfactual-fewer": (
        "leapfactual",
        "boost 2, stop once in the target class (fewer passes, CEs as close to their inputs)",
    ),
    "opt": ("opt", "AdamW, 1,000 steps"),
    "latent_attack": ("latent_attack", "Adam until p > 0.5, at most 1,000 steps"),
    "cgm": ("cgm", "one CVAE pass"),
}
OURS, REFERENCE, MIDPOINT = "leapfactual", "leapfactual-reference", "leapfactual-midpoint"
CONTIGUOUS, AUTHORS, FEWER = "leapfactual-contiguous", "leapfactual-authors", "leapfactual-fewer"
PAIRS = ((OURS, AUTHORS), (FEWER, AUTHORS), (OURS, REFERENCE), (OURS, MIDPOINT), (CONTIGUOUS, OURS))
"""Compared in one process, alternately (:func:`compare`)."""
SLOW = {"opt", "latent_attack"}
COUNTERS = ("encoder", "decoder", "classifier", "field", "gradient_steps")
BOUND_TARGET = 1.05
AUTHORS_TARGET = 1.5
"""The authors' loop should take at least this many times our CPU time, CEs within one SE."""
SIZES = ("limit", "limit_slow", "repeats", "limit_schedules", "limit_candidates", "memory")
"""Options that size the run: the page names those set below their defaults."""


def options(row: str) -> dict[str, Any]:
    """The constructor options of ``row``'s method (empty: the method's defaults)."""
    from leapfactual.explain import Blend
    from leapfactual.flow import Solver
    from paper.experiments.schedules import SETTLED

    rows: dict[str, dict[str, Any]] = {
        "leapfactual-settle": {"blend": SETTLED},
        "leapfactual-early": {"blend": Blend(0.1, 15, tol=1e-3)},
        "leapfactual-reference": {"solver": Solver("dopri5", checkpoints=5)},
        "leapfactual-midpoint": {"solver": Solver("midpoint", 4)},
        FEWER: {"blend": Blend(**CANDIDATES["boost 2, stop once in the target class"])},
    }
    return rows.get(row, {})


def label(row: str) -> str:
    """The row's title: the registry's title of its method, then what the row runs."""
    from leapfactual.explain import method_info

    method, detail = ROWS[row]
    return f"{method_info(method).title}, {detail}"


def resolve(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is present, else ``cpu``; other names pass through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def describe(device: str) -> str:
    """The device in words, for the table (the GPU's name on CUDA)."""
    dev = torch.device(device)
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type


def sync(device: str) -> None:
    """Wait for queued GPU work, so that a timer stops when the work is done."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


Times = tuple[float, float]
"""(CPU seconds of this process, wall seconds)."""


def clock() -> Times:
    return time.process_time(), time.perf_counter()


def since(start: Times, device: str) -> Times:
    """CPU and wall seconds since ``start`` (queued GPU work waited for)."""
    sync(device)
    cpu, wall = clock()
    return cpu - start[0], wall - start[1]


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, lowest, highest)."""
    return statistics.median(values), min(values), max(values)


@torch.no_grad()
def bound_seconds(models: Any, x: torch.Tensor, cost: Any, batch: int, device: str) -> Times:
    """Seconds of the encoder, decoder and classifier passes ``cost`` counts, alone: per batch
    of ``batch`` inputs, its share of encodes, then of decodes of its latents, then of
    classifications of the decoded images (a fractional share as one partial batch)."""
    vae, classifier, n = models.codec, models.classifier, len(x)
    per = {k: getattr(cost, k) / n for k in ("encoder", "decoder", "classifier")}
    start = clock()
    for i in range(0, n, batch):
        xb = x[i : i + batch].to(device)

        def repeat(count: float, call: Any, arg: torch.Tensor) -> Any:
            out = None
            whole, part = int(count), round((count % 1) * len(arg))
            for _ in range(whole):
                out = call(arg)
            if part:
                out = call(arg[:part])
            return out

        z = repeat(max(per["encoder"], 1.0), vae.encode, xb)
        images = vae.decode(z)  # the images to classify; counted as one of the decodes
        repeat(max(per["decoder"] - 1, 0.0), vae.decode, z)
        repeat(per["classifier"], classifier, images)
    return since(start, device)


@torch.no_grad()
def field_seconds(models: Any, x: torch.Tensor, cost: Any, batch: int, device: str) -> Times:
    """Seconds of the field evaluations ``cost`` counts, alone, per batch of ``batch`` latents
    (under a uniform condition at t = 0.5; an MLP's time does not depend on the values)."""
    field, n = models.flow, len(x)
    if field is None or not cost.field:
        return 0.0, 0.0
    calls = cost.field / n
    start = clock()
    for i in range(0, n, batch):
        rows = len(x[i : i + batch])
        z = torch.randn(rows, field.latent_dim, device=device)
        width = field.condition.num_classes
        cond = field.condition.from_probs(torch.full((rows, width), 1 / width, device=device))
        t = torch.tensor(0.5, device=device)
        for _ in range(round(calls)):
            field(t, z, cond)
    return since(start, device)


def inputs(run: Any, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` held-out digits (cycled) and a random other class for each (seed 0)."""
    from leapfactual.explain import random_other_targets

    test = run.test
    reps = -(-n // len(test))
    x = test.images.repeat(reps, 1, 1, 1)[:n]
    labels = test.labels.repeat(reps)[:n]
    return x, random_other_targets(labels, test.num_classes, 0)


class AuthorsCost:
    """The field evaluations of :class:`AuthorsLoop` (what :func:`compare` reads of a cost)."""

    def __init__(self, n: int) -> None:
        self.n, self.field = n, 0

    def per_ce(self) -> dict[str, float]:
        return {"field": self.field / self.n}


class AuthorsResult(NamedTuple):
    """What :func:`compare` reads of an explanation."""

    x: torch.Tensor
    x_cf: torch.Tensor
    valid: torch.Tensor
    cost: AuthorsCost


class AuthorsLoop:
    """The reference's per-step loop as the paper describes it, written plainly here: per batch,
    encode; 15 times decode, classify, condition on the softmax, lift under it and land under
    the target's one-hot, each half by dopri5 (atol = rtol = 1e-4) forced through 5 checkpoints;
    the CE is the decoding. Injection, land-only (gamma 0.1, 5 leaps), follows without
    decoding or classifying between its leaps (a land-only leap uses no current condition), as
    ours does without a trajectory: 17 decodes and 16 classifications per CE against our loop's
    17 and 18 (ours also classifies the input, and the reliable CE for its probabilities). The
    field is the run's MLP applied as the paper writes it, to ``concat(z, c, t)``
    (a softmax-conditioned MLP field only)."""

    def __init__(self, run: Any, batch_size: int) -> None:
        from leapfactual.explain import Blend, Inject

        self.vae, self.classifier, self.field = run.vae, run.classifier, run.flow
        self.batch_size, self.blend, self.inject = batch_size, Blend(), Inject()

    @torch.no_grad()
    def explain(self, x: torch.Tensor, target: torch.Tensor) -> AuthorsResult:
        from torchdiffeq import odeint

        cost = AuthorsCost(len(x))
        lift, land = torch.linspace(1, 0, 5), torch.linspace(0, 1, 5)

        def solve(cond: torch.Tensor, gamma: float, z: torch.Tensor, t: torch.Tensor) -> Any:
            def velocity(time: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
                cost.field += len(state)
                t_col = time.reshape(1, 1).expand(len(state), 1)
                return gamma * self.field.net(torch.cat([state, cond, t_col], dim=1))

            options = {"step_t": t}
            return odeint(velocity, z, t, method="dopri5", atol=1e-4, rtol=1e-4, options=options)[
                -1
            ]

        made, valid = [], []
        for i in range(0, len(x), self.batch_size):
            xb, tb = x[i : i + self.batch_size], target[i : i + self.batch_size]
            z = self.vae.encode(xb)
            goal = torch.nn.functional.one_hot(tb, self.field.condition.num_classes).to(z.dtype)
            for _ in range(self.blend.steps):
                probs = self.classifier(self.vae.decode(z)).softmax(dim=1)
                z = solve(probs, self.blend.gamma, z, lift)
                z = solve(goal, self.blend.gamma, z, land)
            ce = self.vae.decode(z)
            valid.append(self.classifier(ce).argmax(dim=1) == tb)
            for _ in range(self.inject.steps):
                z = solve(goal, self.inject.gamma_land, z, land)
            self.vae.decode(z)  # the reliable CE
            made.append(ce)
        return AuthorsResult(x, torch.cat(made), torch.cat(valid), cost)


def explainer_for(run: Any, row: str) -> Any:
    """``row``'s explainer on ``run``'s models (for :data:`CONTIGUOUS`, on copies of them with
    contiguous weights, as the run loaded before it chose channels-last; for :data:`AUTHORS`,
    the authors' loop at our batch size)."""
    if row == AUTHORS:
        return AuthorsLoop(run, run.explainer(ROWS[OURS][0]).batch_size)
    if row == CONTIGUOUS:
        run = copy.copy(run)
        for stage in ("classifier", "vae"):
            model = copy.deepcopy(getattr(run, stage))
            setattr(run, stage, model.to(memory_format=torch.contiguous_format))
    return run.explainer(ROWS[row][0], **options(row))


def measure(row: str, run_dir: str, n: int, device: str, repeats: int) -> dict[str, Any]:
    """Time one row and its bound on the first ``n`` held-out digits (in this process, on
    ``device``; inputs start on the CPU and results come back there, as for a user)."""
    from leapfactual.pipeline import load_run

    run = load_run(run_dir, device=device)
    x, target = inputs(run, n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    explainer = explainer_for(run, row)
    models = run.models()
    runs: list[tuple[Times, Times, Times]] = []  # (method, its bound, its field) per repeat
    for _ in range(1 if row in SLOW else repeats):
        start = clock()
        exp = explainer.explain(x, target)
        took = since(start, device)
        bound = bound_seconds(models, x, exp.cost, explainer.batch_size, device)
        runs.append((took, bound, field_seconds(models, x, exp.cost, explainer.batch_size, device)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per_ce = exp.cost.per_ce()
    out: dict[str, Any] = {
        "evaluations": {k: per_ce[k] for k in COUNTERS},
        "validity": float(exp.valid.float().mean()),
        "peak_mb": peak / 1024,
        "extra_mb": (peak - base) / 1024,
        "n": n,
        "repeats": len(runs),
        "device": describe(device),
    }
    for k, clock_name in enumerate(("cpu", "wall")):  # each method run against its own bound
        out[clock_name] = {
            "per_ce": statistics.median(r[0][k] for r in runs) / n,
            "bound_per_ce": statistics.median(r[1][k] for r in runs) / n,
            "field_per_ce": statistics.median(r[2][k] for r in runs) / n,
            "ratio": spread([r[0][k] / r[1][k] for r in runs]),
            "ratio_with_field": statistics.median(r[0][k] / (r[1][k] + r[2][k]) for r in runs),
        }
    return out


def compare(a: str, b: str, run_dir: str, n: int, device: str, repeats: int) -> dict[str, Any]:
    """Rows ``a`` and ``b`` in this one process, alternately (A B, B A, ...) on the same
    inputs: per round the ratio of B's time to A's (CPU and wall), and the quality of each
    (validity, mean L1 distance of the CE to its input with its standard error) and how far
    B's CEs lie from A's (largest absolute pixel difference)."""
    from leapfactual.pipeline import load_run

    run = load_run(run_dir, device=device)
    x, target = inputs(run, n)
    explainers = {r: explainer_for(run, r) for r in (a, b)}
    times: dict[str, list[Times]] = {a: [], b: []}
    exps: dict[str, Any] = {}
    for k in range(repeats):
        for r in (a, b) if k % 2 == 0 else (b, a):
            start = clock()
            exps[r] = explainers[r].explain(x, target)
            times[r].append(since(start, device))
    quality = {}
    for r, exp in exps.items():
        dist = (exp.x_cf - exp.x).abs().flatten(1).mean(1).double()
        quality[r] = {
            "validity": float(exp.valid.float().mean()),
            "l1": float(dist.mean()),
            "l1_se": float(dist.std() / len(dist) ** 0.5),
            "field": exp.cost.per_ce()["field"],
        }
    return {
        "a": a,
        "b": b,
        "n": n,
        "repeats": repeats,
        "batch": explainers[a].batch_size,
        "device": describe(device),
        "cpu": spread([tb[0] / ta[0] for ta, tb in zip(times[a], times[b], strict=True)]),
        "wall": spread([tb[1] / ta[1] for ta, tb in zip(times[a], times[b], strict=True)]),
        "quality": quality,
        "max_difference": float((exps[a].x_cf - exps[b].x_cf).abs().max()),
    }


def child(
    row: str, run_dir: str, n: int, device: str, repeats: int, threads: int, pair: str = ""
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", row, "--run", run_dir, "--limit", str(n)]
    command += ["--device", device, "--repeats", str(repeats), "--threads", str(threads)]
    if pair:
        command += ["--pair", pair]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def evaluations(r: dict[str, Any]) -> str:
    """``enc / dec / cls / field / grad`` per CE."""
    return " / ".join(f"{r['evaluations'][k]:g}" for k in COUNTERS)


def span(values: list[float] | tuple[float, ...]) -> str:
    """``median (lowest-highest)``."""
    return f"{values[0]:.2f} ({values[1]:.2f}-{values[2]:.2f})"


SPEED_HEADLINE = ("validity", "CPU ms / CE", "time / bound, CPU (median, range)")
"""The columns right after the method: does it work, how long, how far above its bound."""


def speed_table(results: dict[str, dict[str, Any]]) -> list[str]:
    """The rows as a Markdown table (CPU time, with wall time beside the ratios): the method,
    then validity and time, the counts and bounds after."""
    from paper.tables import markdown_table

    rows = []
    for row, r in results.items():
        cpu, wall = r["cpu"], r["wall"]
        rows.append(
            {
                "method": label(row),
                "n": str(r["n"]),
                "CPU ms / CE": f"{cpu['per_ce'] * 1e3:.3f}",
                "evaluations / CE (enc / dec / cls / field / grad)": evaluations(r),
                "bound CPU ms / CE": f"{cpu['bound_per_ce'] * 1e3:.3f}",
                "time / bound, CPU (median, range)": span(cpu["ratio"]),
                "time / bound, wall": span(wall["ratio"]),
                "field alone CPU ms / CE": f"{cpu['field_per_ce'] * 1e3:.3f}",
                "time / (bound + field), CPU": f"{cpu['ratio_with_field']:.2f}",
                "validity": f"{r['validity']:.3f}",
                "peak MB": f"{r['peak_mb']:.0f}",
                "device": r["device"],
            }
        )
    return markdown_table(rows, lead=SPEED_HEADLINE)


def pair_lines(pairs: list[dict[str, Any]]) -> list[str]:
    """One sentence per pair measured in one process."""
    lines = []
    for c in pairs:
        qa, qb = c["quality"][c["a"]], c["quality"][c["b"]]
        se, gap = max(qa["l1_se"], qb["l1_se"]), qb["l1"] - qa["l1"]
        near = (
            "within one standard error"
            if abs(gap) <= se
            else f"the first {'farther' if gap > 0 else 'closer'} by more than one standard error"
        )
        lines.append(
            f"- {label(c['b'])} against {label(c['a'])}, {c['n']} digits, {c['repeats']} "
            f"alternating runs in one process on {c['device']}: {span(c['cpu'])} the CPU time "
            f"(median of the per-round ratios, range), {span(c['wall'])} the wall time; "
            f"{qb['field']:g} vs {qa['field']:g} field evaluations per CE; validity "
            f"{qb['validity']:.3f} vs {qa['validity']:.3f}; L1 to the input "
            f"{qb['l1']:.4f} ± {qb['l1_se']:.4f} vs {qa['l1']:.4f} ± {qa['l1_se']:.4f} "
            f"({near}); CEs differ by at most {c['max_difference']:.2g} "
            "per pixel."
        )
    return lines


def verdicts(results: dict[str, dict[str, Any]]) -> list[str]:
    """Sentences generated from the numbers."""
    ours, opt = results[OURS], results["opt"]
    ratio, low, high = ours["cpu"]["ratio"]
    wall = ours["wall"]["ratio"]
    met = "met" if ratio <= BOUND_TARGET else "NOT met"
    if low < 1:  # no loop can beat the passes it makes: the load changed within a pair
        met += (
            f"; but a pair measured {low:.2f}, below 1, which only a change of the machine's "
            "load between the two timings explains, so this verdict is not reliable"
        )
    with_field = ours["cpu"]["ratio_with_field"]
    slower = opt["cpu"]["per_ce"] / ours["cpu"]["per_ce"]
    return [
        f"- LeapFactual at the paper schedule takes {ratio:.2f}x (median of {ours['repeats']} "
        f"paired runs, range {low:.2f}-{high:.2f}; wall time {span(wall)}) the CPU time of its "
        f"own encoder + decoder + classifier passes (target <= {BOUND_TARGET}x: {met}, on "
        f"{ours['device']}); its {ours['evaluations']['field']:g} field evaluations alone "
        f"take {ours['cpu']['field_per_ce'] * 1e3:.3f} ms of CPU per CE, and with them counted "
        f"the loop takes {with_field:.2f}x the time of all its network evaluations (the rest is "
        "the loop's own work: solver arithmetic, conditions, bookkeeping).",
        f"- Opt-based takes about {slower:.0f}x our CPU time per CE "
        f"({opt['evaluations']['gradient_steps']:g} gradient steps per CE; separate processes, "
        "so a rough figure).",
        "- The bound times the forward passes only: for gradient methods (Opt-based, the "
        "attack) it leaves out the backward passes, so their ratio is far above 1 by "
        "construction; the CGM row's bound replays the run's VAE in place of the CVAE (same "
        "architecture with a condition input).",
    ]


CANDIDATES: dict[str, dict[str, Any]] = {  # schedule -> Blend arguments (paper: Blend())
    "settle 0.01 alone": {"settle": 0.01},
    "boost 4 + settle 0.01 (ours)": {"settle": 0.01, "boost": 4.0},
    "boost 2 + settle 0.01": {"settle": 0.01, "boost": 2.0},
    "boost 2, stop once in the target class": {"settle": 1.0, "boost": 2.0},
    "boost 4, stop once in the target class": {"settle": 1.0, "boost": 4.0},
    "gamma 0.2, 6 leaps": {"gamma": 0.2, "steps": 6},
}
"""Blending schedules measured against the paper's for item 4 (injection unchanged)."""


def fewer_passes(run_dir: str, n: int, device: str) -> list[str]:
    """Each of :data:`CANDIDATES` against the paper schedule on the first ``n`` held-out digits:
    decode + classify passes per CE (``schedules.passes``: the input classified, its latent
    decoded and classified, then one of each per blending leap and one after the injection),
    the CE's mean L1 distance to its input with its standard error, and validity. The target:
    at most ``PASS_SHARE`` of the paper's passes with CEs no farther from their inputs than
    the paper's mean plus one standard error."""
    from leapfactual.explain import Blend
    from leapfactual.pipeline import load_run
    from paper.experiments.schedules import PASS_SHARE, mean_se
    from paper.experiments.schedules import passes as count_passes  # `passes` is a local here

    run = load_run(run_dir, device=device)
    x, target = inputs(run, n)
    lines = [
        f"Blending schedules against the paper's (gamma 0.1, 15 leaps, then 5 injection leaps) "
        f"on {n} held-out digits of `{run_dir}`, LeapFactual otherwise unchanged (RK4, 4 "
        f"steps). Target: at most {PASS_SHARE:g}x the paper schedule's decode + classify passes "
        "with CEs no farther from their inputs (mean L1 at most the paper's plus one standard "
        "error, the larger of the two schedules'). Only the explained classifier's validity "
        "is shown (no independent judge here).",
        "",
        "| schedule | passes / CE | share of the paper's | L1 to input (mean ± SE) | validity "
        "| verdict |",
        "|---|---|---|---|---|---|",
    ]
    found = []
    paper: tuple[float, float] = (0.0, 0.0)
    paper_passes = 1.0
    for name, blend in {"paper schedule (15 leaps)": {}, **CANDIDATES}.items():
        exp = run.explainer("leapfactual", blend=Blend(**blend)).explain(x, target)
        assert exp.steps is not None
        passes = float(count_passes(exp).mean())
        dist = mean_se((exp.x_cf - exp.x).abs().flatten(1).mean(1).double())
        if not blend:
            paper, paper_passes = dist, passes
        share = passes / paper_passes
        near = dist[0] <= paper[0] + max(paper[1], dist[1])
        verdict = (
            "reference" if not blend else ("met" if near and share <= PASS_SHARE else "NOT met")
        )
        if verdict == "met":
            found.append(name)
        lines.append(
            f"| {name} | {passes:.1f} | {share:.2f} | {dist[0]:.4f} ± {dist[1]:.4f} | "
            f"{float(exp.valid.float().mean()):.3f} | {verdict} |"
        )
    lines.append("")
    lines.append(
        f"- Schedules that meet the target: {', '.join(found)}."
        if found
        else "- None of these schedules meets the target: every one that uses at most "
        f"{PASS_SHARE:g}x the paper's passes leaves CEs farther from their inputs than the "
        "paper schedule's by more than one standard error, or uses more passes."
    )
    return lines


def authors_verdict(same: dict[str, Any], fewer: dict[str, Any]) -> list[str]:
    """Whether our loop (each pair's ``a``) is at least :data:`AUTHORS_TARGET` times faster
    than the authors' loop (``b``) with CEs no farther from their inputs (mean L1 at most the
    authors' plus one standard error, the larger of the two): at the paper's schedule
    (``same``), then with the schedule of fewer passes (``fewer``: other CEs, compared by their
    L1 to the input and validity only)."""
    out = []
    for c, what in ((same, "At the paper's schedule"), (fewer, f"With {ROWS[FEWER][1]}")):
        qa, qb = c["quality"][c["a"]], c["quality"][c["b"]]
        near = qa["l1"] <= qb["l1"] + max(qa["l1_se"], qb["l1_se"])
        ratio, low, high = c["cpu"]
        met = "met" if ratio >= AUTHORS_TARGET and near else "NOT met"
        how = "no farther, within one SE" if near else "farther by more than one SE"
        out.append(
            f"- {what}: the authors' loop takes {ratio:.2f}x our CPU time (median of "
            f"{c['repeats']} rounds, range {low:.2f}-{high:.2f}), batch {c['batch']} both; our "
            f"CEs' mean L1 to the input {qa['l1']:.4f} against theirs {qb['l1']:.4f} "
            f"({how}), "
            f"validity {qa['validity']:.3f} (ours) vs {qb['validity']:.3f} (target: >= "
            f"{AUTHORS_TARGET}x, CEs no farther within one SE: {met})."
        )
    out.append(
        "- The second line changes what is computed (fewer leaps per CE), not how fast a leap "
        "is: its CEs are others than the paper schedule's, judged here by their distance to "
        "the input and the explained classifier's validity only, not by an independent judge."
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=500, help="CEs per fast method")
    parser.add_argument("--limit-slow", type=int, default=50, help="CEs for Opt-based / attack")
    parser.add_argument("--repeats", type=int, default=5, help="paired runs, for fast rows")
    parser.add_argument("--run", default="runs/bench-mnist5k", help="run directory")
    parser.add_argument(
        "--thickness-run", default="runs/bench-thickness-mnist5k", help="thickness run"
    )
    parser.add_argument("--limit-schedules", type=int, default=250, help="CEs per schedule")
    parser.add_argument(
        "--limit-candidates", type=int, default=250, help="CEs per candidate schedule (0: skip)"
    )
    parser.add_argument("--memory", default="1000,20000", help="image counts for memory")
    parser.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda:N")
    parser.add_argument("--out", default="docs/results/speed.md", help="the results page")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads per process (0: torch's default)"
    )
    parser.add_argument("--one", choices=list(ROWS), help=argparse.SUPPRESS)
    parser.add_argument("--pair", choices=list(ROWS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = resolve(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one and args.pair:
        print(json.dumps(compare(args.one, args.pair, args.run, args.limit, device, args.repeats)))
        return
    if args.one:
        print(json.dumps(measure(args.one, args.run, args.limit, device, args.repeats)))
        return
    from leapfactual.pipeline import FitSettings, fit_run
    from paper.experiments.schedules import run_schedules, schedule_lines
    from paper.pages import write_page

    began, load = time.perf_counter(), os.getloadavg()[0]
    command = "python " + shlex.join(sys.argv)
    print(f"reusing or fitting {args.run} ...", flush=True)
    stages = ("vae", "classifier", "flow", "cvae", *(("oracle",) if args.limit_schedules else ()))
    fit_run(args.run, FitSettings(), stages, device=device)
    where = (
        f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, device {describe(device)}"
    )
    print(f"machine: {where}")
    results = {}
    for row in (r for r in ROWS if r not in (CONTIGUOUS, AUTHORS, FEWER)):  # only in pairs
        n = args.limit_slow if row in SLOW else args.limit
        results[row] = child(row, args.run, n, device, args.repeats, args.threads)
        print(f"  measured {row} on {n} digits", flush=True)
    table, said = speed_table(results), verdicts(results)
    print("\n" + "\n".join(table) + "\n\n" + "\n".join(said), flush=True)
    pairs = [
        child(a, args.run, args.limit, device, args.repeats, args.threads, pair=b) for a, b in PAIRS
    ]
    paired = pair_lines(pairs) + authors_verdict(pairs[0], pairs[1])
    print("\n" + "\n".join(paired), flush=True)

    print("\npeak memory of LeapFactual (ours) as the number of images grows:")
    memory = []
    for count in (int(c) for c in args.memory.split(",")):
        r = child(OURS, args.run, count, device, 1, args.threads)
        memory.append(
            f"- {count:,} images: peak {r['peak_mb']:.0f} MB, of which {r['extra_mb']:.0f} MB "
            f"during explain ({r['cpu']['per_ce'] * 1e3:.2f} ms of CPU per CE, {r['device']})."
        )
        print(memory[-1], flush=True)

    lines = ["- Not run this time (`--limit-schedules 0`)."]
    if args.limit_schedules:
        print("\nstopping rules of blending vs the paper schedule ...", flush=True)
        schedules = run_schedules(args.run, args.thickness_run, args.limit_schedules, device=device)
        lines = schedule_lines(schedules)
        print("\n".join(lines), flush=True)
    candidates = ["- Not run this time (`--limit-candidates 0`)."]
    if args.limit_candidates:
        print("\ncandidate schedules vs the paper's, by closeness to the input ...", flush=True)
        candidates = fewer_passes(args.run, args.limit_candidates, device)
        print("\n".join(candidates), flush=True)
    end_load = os.getloadavg()[0]
    traded = [
        f"{action.dest.replace('_', '-')} {getattr(args, action.dest)} (default {action.default})"
        for action in parser._actions
        if action.dest in SIZES and getattr(args, action.dest) != action.default
    ]

    gpu = (
        "not measured: no GPU available."
        if not torch.cuda.is_available()
        else "the rows above ran on the GPU named in their device column (fp32)."
    )
    page = write_page(
        args.out,
        "Speed: time, evaluations and the model-pass bound of every method",
        command,
        f"`mnist5k` held-out digits of `{args.run}` (fitted or reused; cycled to {args.limit} "
        f"for the fast rows, the first {args.limit_slow} for Opt-based and the attack), "
        "each toward a random other class (seed 0).",
        time.perf_counter() - began,
        [
            f"Device: {describe(device)}; {args.repeats} paired runs for fast rows (times: the "
            "median run; ratios: the median pair, with the range), one run for slow ones; every "
            "row in its own process, one after another. Times are CPU time of the process "
            "unless marked wall.",
            f"Load average {load:.1f} at the start and {end_load:.1f} at the end on "
            f"{os.cpu_count()} cores: other work shared the machine, so wall times are noisy; "
            "read CPU times and ratios measured in one process.",
            "Sized below the defaults to fit a loaded machine: " + ", ".join(traded) + "."
            if traded
            else "At the default sizes.",
        ],
        [
            (
                "Every method",
                [
                    "Time per CE, evaluations per CE (per-sample passes counted by the "
                    "explanation's cost) and the ratio of the time to the row's own model-pass "
                    "bound: the same number of encoder, decoder and classifier passes timed "
                    "alone, in the same process, on the same inputs and batch size.",
                    "",
                    *table,
                    "",
                    *said,
                ],
            ),
            (
                "Paired in one process",
                [
                    "Two ways to make the same CEs, run alternately in one process on the same "
                    "inputs; each ratio is one round's, and the line gives their median and "
                    "range (times from separate processes are never divided).",
                    "",
                    *paired,
                ],
            ),
            ("Peak memory of LeapFactual", memory),
            ("Fewer passes, CEs as close to their inputs", candidates),
            ("Fewer model calls at equal quality (beyond the paper)", lines),
            ("GPU", [f"- {gpu}"]),
        ],
    )
    print(f"\npage: {page}")


if __name__ == "__main__":
    main()
