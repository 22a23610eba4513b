"""Run several ``leapfactual`` command lines in one process (one import of torch for all).

Reads a JSON list of argument lists on stdin; for each, calls the real entry point
``leapfactual.cli.app.main`` with that ``sys.argv`` and records the exit code, stdout and
stderr; an exception that escapes ``main`` is printed as the interpreter would (a traceback)
with exit code 1. Writes the JSON list of results to stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback

from leapfactual.cli.app import main


def run(argv: list[str]) -> dict[str, object]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    sys.argv = ["leapfactual", *argv]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
    return {"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


if __name__ == "__main__":
    results = [run(argv) for argv in json.load(sys.stdin)]
    json.dump(results, sys.__stdout__)
