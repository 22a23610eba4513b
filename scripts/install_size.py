"""Installed size of requirements and everything they pull in, read from this environment.

Prints each distribution of the dependency closure with its size on disk (from its installed
file list) and the total, without downloading anything; every distribution must be installed
here (``make test`` installs the ``dev`` extra, which has them all)::

    python scripts/install_size.py 'leapfactual[cli,plots]'
    python scripts/install_size.py 'leapfactual[cli,plots]' --besides leapfactual
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import sys
from collections.abc import Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(requirements: Iterable[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions that ``requirements`` need, by canonical name, extras and
    environment markers evaluated for this interpreter."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(Requirement(text), "") for text in requirements]
    seen: set[tuple[str, str]] = set()
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        dist = found.get(name) or metadata.distribution(requirement.name)
        found[name] = dist
        for wanted in ("", *sorted(requirement.extras)):
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            todo += [(Requirement(text), wanted) for text in dist.requires or []]
    return found


def installed_bytes(dist: metadata.Distribution) -> int:
    """Bytes of the files the distribution installed (its RECORD)."""
    total = 0
    for file in dist.files or []:
        path = file.locate()
        if path.is_file():
            total += path.stat().st_size
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", nargs="+", help="e.g. 'leapfactual[cli,plots]'")
    parser.add_argument("--besides", nargs="*", default=[], help="leave these closures out")
    args = parser.parse_args(argv)
    left_out = closure(args.besides) if args.besides else {}
    dists = {k: v for k, v in closure(args.requirements).items() if k not in left_out}
    sizes = {name: installed_bytes(dist) for name, dist in dists.items()}
    for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
        print(f"{size / 1e6:9.1f} MB  {name} {dists[name].version}")
    besides = f" besides {' '.join(args.besides)}" if args.besides else ""
    print(f"{sum(sizes.values()) / 1e6:9.1f} MB  in {len(sizes)} distributions{besides}")
    print(f"python {sys.version.split()[0]}: {' '.join(args.requirements)}")


if __name__ == "__main__":
    main()
