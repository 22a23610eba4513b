"""The console script without typer prints one line naming the cli extra."""

from __future__ import annotations

import sys

import pytest

from leapfactual.cli.console import main


def test_without_typer_one_line_names_the_cli_extra(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "typer", None)
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: the leapfactual command needs 'typer'")
    assert "pip install 'leapfactual[cli]'" in err


def test_with_typer_it_runs_the_app(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["leapfactual", "--version"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("leapfactual ")
