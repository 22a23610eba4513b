"""Where a command line shows the library's messages: the ``leapfactual`` logger's INFO
records (DEBUG with ``--debug``: also every epoch's loss), one plain line each on stderr."""

from __future__ import annotations

import logging

import typer

LIBRARY = logging.getLogger("leapfactual")


class EchoHandler(logging.Handler):
    """Writes each record's message with ``typer.echo`` to the stderr of the moment."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            typer.echo(self.format(record), err=True)
        except Exception:  # logging's contract: a failing handler never raises
            self.handleError(record)


def show_library_messages(level: int = logging.INFO) -> None:
    """Show the library's messages from ``level`` up on stderr (one handler, however often
    this is called)."""
    for handler in [h for h in LIBRARY.handlers if isinstance(h, EchoHandler)]:
        LIBRARY.removeHandler(handler)
    handler = EchoHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    LIBRARY.addHandler(handler)
    LIBRARY.setLevel(level)
