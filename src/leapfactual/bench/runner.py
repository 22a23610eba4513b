"""Run every method on the same inputs and targets, then every row function on every column."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor

from leapfactual.bench.table import Cell, Table
from leapfactual.explain import Cost, Explainer, Explanation
from leapfactual.models.protocols import Classifier


@dataclass
class Method:
    """A table column: an explainer and which of its outputs to score.

    ``output="reliable"`` scores LeapFactual's reliable CE (after injection).
    """

    name: str
    explainer: Explainer
    output: Literal["cf", "reliable"] = "cf"


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
        return self.probs_cf.argmax(1) == self.explanation.target


@dataclass
class BenchContext:
    """Everything the row functions may need besides the CEs.

    Attributes:
        x: the inputs; target: the target of each.
        x_ref: reference images for shape change (the paper: the VAE reconstructions).
        oracle: an independent classifier, for oracle validity.
        features: a feature network for FID / KID / sFID (trained here).
        real: real images for realism (default: ``x``).
    """

    x: Tensor
    target: Tensor
    x_ref: Tensor | None = None
    oracle: Classifier | None = None
    features: Callable[[Tensor], Tensor] | None = None
    real: Tensor | None = None


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
