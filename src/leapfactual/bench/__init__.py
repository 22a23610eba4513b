"""Benchmarks: every method on the same inputs, every metric on every method, one table."""

from leapfactual.bench.rows import (
    classification_rows,
    cost_rows,
    morphometric_rows,
    proximity_rows,
    realism_rows,
)
from leapfactual.bench.runner import BenchContext, Benchmark, Column, Method, registry_methods
from leapfactual.bench.table import Table

__all__ = [
    "BenchContext",
    "Benchmark",
    "Column",
    "Method",
    "Table",
    "classification_rows",
    "cost_rows",
    "morphometric_rows",
    "proximity_rows",
    "realism_rows",
    "registry_methods",
]
