"""Running out of memory, named by its cause: the setting that drove the size.

Torch reports a failed allocation (a GPU's ``OutOfMemoryError``, the CPU allocator's "can't
allocate memory", Python's ``MemoryError``) without saying why it was so large.
:func:`sized_by` wraps work whose size a few settings decide and turns such an error into an
:class:`OutOfMemory` naming the setting furthest above its default (``vae.width = 1000000000``,
``diverse = 100000000``) and how to lower it, or, when none is above its default, the first
one given (the batch size) and a machine with more memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """A setting that sizes some work: its name, value and default, and how to set it."""

    name: str
    value: int | float
    default: int | float
    how: str


class OutOfMemory(MemoryError):
    """Memory ran out; the message names the setting that sized the work."""


def out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is an allocation that failed (Python's, torch's CPU or GPU allocator)."""
    return (
        isinstance(err, MemoryError)
        or type(err).__name__ == "OutOfMemoryError"
        or "can't allocate memory" in str(err)
    )


@contextmanager
def sized_by(doing: str, sizes: Sequence[Size]) -> Iterator[None]:
    """Run the block; running out of memory in it raises :class:`OutOfMemory` naming, of
    ``sizes`` (the batch size first), the setting furthest above its default."""
    try:
        yield
    except OutOfMemory:
        raise
    except (MemoryError, RuntimeError) as err:
        if not out_of_memory(err):
            raise
        raise OutOfMemory(advice(doing, sizes, err)) from err


def advice(doing: str, sizes: Sequence[Size], err: BaseException) -> str:
    """The one line :func:`sized_by` raises (see the module docstring)."""
    text = " ".join(str(err).split())
    asked = re.search(r"tried to allocate [^.(]*", text)  # torch: "... N bytes" / "N GiB"
    detail = asked[0].strip() if asked else text[:160] or type(err).__name__
    worst = max(sizes, key=lambda s: s.value / s.default)
    if worst.value <= worst.default:
        first = sizes[0]
        return (
            f"out of memory while {doing}, with no size above its default; lower {first.name} "
            f"({first.how}) or use a machine with more memory ({detail})"
        )
    return (
        f"out of memory while {doing}: {worst.name} = {worst.value} (default {worst.default}) "
        f"sets its size; lower it ({worst.how}) ({detail})"
    )
