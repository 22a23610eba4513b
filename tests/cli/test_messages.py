"""The library never prints: its messages are records of the ``leapfactual`` logger, which a
command line shows on stderr, one plain line each."""

from __future__ import annotations

import ast
import contextlib
import io
import logging
from pathlib import Path

from leapfactual.cli.messages import EchoHandler, show_library_messages

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "leapfactual"
STREAMS = {("sys", "stdout"), ("sys", "stderr"), ("typer", "echo"), ("typer", "secho")}


def writes(source: str) -> list[str]:
    """What in ``source`` prints or reaches the standard streams: calls of ``print``, and
    ``sys.stdout`` / ``sys.stderr`` / ``typer.echo`` named anywhere."""
    found = []
    for node in ast.walk(ast.parse(source)):
        called = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        if called and node.func.id == "print":  # type: ignore[attr-defined]
            found.append(ast.unparse(node))
        named = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if named and (node.value.id, node.attr) in STREAMS:  # type: ignore[attr-defined]
            found.append(ast.unparse(node))
    return found


def test_the_library_outside_the_command_line_never_prints() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}: {line}"
        for path in PACKAGE.rglob("*.py")
        if path.parent.name != "cli"
        for line in writes(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_check_finds_a_print_and_a_stream_write() -> None:
    planted = 'def f():\n    print("hi")\nsys.stderr.write("x")\nlog.info("print(x)")\n'
    assert sorted(writes(planted)) == ["print('hi')", "sys.stderr"]
    assert writes('logger.info("done")  # never print()\nblueprint(x)\n') == []


def test_the_command_line_shows_info_once_and_debug_when_asked() -> None:
    library = logging.getLogger("leapfactual")
    before = (list(library.handlers), library.level)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            show_library_messages()
            show_library_messages()  # again (a second command in one process): one handler
            logging.getLogger("leapfactual.audit.jobs").info("explaining 3 images")
            logging.getLogger("leapfactual.training.loop").debug("vae: epoch 1")
            show_library_messages(logging.DEBUG)
            logging.getLogger("leapfactual.training.loop").debug("vae: epoch 2")
        assert err.getvalue() == "explaining 3 images\nvae: epoch 2\n"
        assert sum(isinstance(h, EchoHandler) for h in library.handlers) == 1
    finally:
        library.handlers[:] = before[0]
        library.setLevel(before[1])
