"""What the paper's commands share: the command line as pages print it, and list options."""

from __future__ import annotations

import shlex
import sys


def command_line() -> str:
    """This process's command as a results page records it: ``python -m paper ARGS``."""
    return "python -m paper " + shlex.join(sys.argv[1:])


def names(text: str) -> tuple[str, ...]:
    """``"a, b"`` -> ``("a", "b")``."""
    return tuple(m.strip() for m in text.split(",") if m.strip())


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> ``(0, 1, 2)``: at least one whole number, no repeats (the one seed
    parser of every ``--seeds`` option); anything else is refused with the fix."""
    try:
        seeds = tuple(int(part) for part in names(text))
    except ValueError:
        seeds = ()
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"--seeds takes comma-separated whole numbers without repeats, such as 0,1,2; "
            f"got {text!r}"
        )
    return seeds
