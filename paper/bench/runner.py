"""Run every method on the same inputs and targets, then every row function on every column."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor

from leapfactual.explain import (
    Cost,
    Explainer,
    Explanation,
    Models,
    Outputs,
    build_explainer,
    method_info,
)
from leapfactual.models import Classifier
from paper.bench.table import Cell, Table


@dataclass
class Method:
    """A table column: an explainer and which of its outputs to score.

    ``output="reliable"`` scores LeapFactual's reliable CE (after injection).
    """

    name: str
    explainer: Explainer
    output: Literal["cf", "reliable"] = "cf"


def registry_methods(
    models: Models,
    names: Sequence[str],
    options: Mapping[str, Mapping[str, Any]] | None = None,
    reliable: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Method]:
    """A column per registered method in ``names`` (built with ``options[name]``, titled by
    the registry), each followed by its reliable variant's column when ``reliable`` names it
    (with ``reliable[name]`` on top of the method's options). A reliable CE that is an output
    of the same explainer (LeapFactual's) shares the plain column's explainer, so
    :class:`Benchmark` explains it once."""
    options, reliable = options or {}, reliable or {}
    out = []
    for name in names:
        info, own = method_info(name), dict(options.get(name, {}))
        plain, _ = build_explainer(name, models, **own)
        out.append(Method(info.title, plain))
        if name in reliable:
            extra = dict(reliable[name])
            if info.reliable == "output" and not extra:
                out.append(Method(info.reliable_title(), plain, "reliable"))
                continue
            explainer, output = build_explainer(name, models, reliable=True, **own | extra)
            out.append(Method(info.reliable_title(extra), explainer, output))
    return out


@dataclass
class Column:
    """The CEs of one method, as the row functions see them."""

    name: str
    x_cf: Tensor
    probs_cf: Tensor
    cost: Cost
    explanation: Explanation

    @property
    def valid(self) -> Tensor:
        return self.explanation.reaches(self.probs_cf)


@dataclass
class BenchContext:
    """Everything the row functions may need besides the CEs.

    Attributes:
        x: the inputs; target: the target of each.
        x_ref: reference images for shape change (the paper: the VAE reconstructions).
        oracle: an independent classifier, for oracle validity.
        features: a feature network for FID / KID / sFID (trained here).
        real: real images for realism (default: ``x``).
        classifier, codec, outputs: the explained classifier (what it returns: ``logits`` or
            ``probs``) and the run's codec, for robust validity.
    """

    x: Tensor
    target: Tensor
    x_ref: Tensor | None = None
    oracle: Classifier | None = None
    features: Callable[[Tensor], Tensor] | None = None
    real: Tensor | None = None
    classifier: Classifier | None = None
    codec: Any = None
    outputs: Outputs = "logits"


Rows = Callable[[Column, BenchContext], dict[str, Cell]]


@dataclass
class Benchmark:
    """Methods x rows on one set of inputs.

    >>> table = Benchmark(ctx, [Method("LeapFactual", lf)], [classification_rows]).run()
    """

    context: BenchContext
    methods: Sequence[Method]
    rows: Sequence[Rows]
    explanations: dict[str, Explanation] = field(default_factory=dict)

    def run(self, progress: Callable[[str], None] | None = None) -> Table:
        """Explain with every method (each once, shared by its columns) and fill the table."""
        table = Table([m.name for m in self.methods])
        for method in self.methods:
            if progress:
                progress(method.name)
            column = self.column(method)
            for rows in self.rows:
                for row, value in rows(column, self.context).items():
                    table.set(row, method.name, value)
        return table

    def column(self, method: Method) -> Column:
        """The CEs of ``method`` on the context's inputs (explained once, then reused)."""
        return self._column(method, self._explain(method.explainer))

    def _explain(self, explainer: Explainer) -> Explanation:
        key = str(id(explainer))
        if key not in self.explanations:
            self.explanations[key] = explainer.explain(self.context.x, self.context.target)
        return self.explanations[key]

    @staticmethod
    def _column(method: Method, exp: Explanation) -> Column:
        if method.output == "reliable":
            if exp.x_reliable is None or exp.probs_reliable is None:
                raise ValueError(f"{method.name}: the explainer made no reliable CE (inject=None)")
            return Column(method.name, exp.x_reliable, exp.probs_reliable, exp.cost, exp)
        return Column(method.name, exp.x_cf, exp.probs_cf, exp.cost, exp)
