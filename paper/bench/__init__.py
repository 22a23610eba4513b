"""Benchmarks: every method on the same inputs, every metric on every method, one table."""

from paper.bench.rows import (
    classification_rows,
    cost_rows,
    morphometric_rows,
    proximity_rows,
    realism_rows,
)
from paper.bench.runner import BenchContext, Benchmark, Column, Method, registry_methods
from paper.bench.table import Table

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
