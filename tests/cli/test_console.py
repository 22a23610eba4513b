"""The console script: one line naming the cli extra without typer; --help, --version and
argument or settings errors answered without importing torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from leapfactual.cli.console import main, version_line


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
    monkeypatch.setattr(sys, "argv", ["leapfactual", "--debug", "--version"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"{version_line()}\n"


def test_version_alone_is_answered_before_the_app(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["leapfactual", "--version"])
    monkeypatch.setitem(sys.modules, "leapfactual.cli.app", None)  # importing it would fail
    main()
    assert capsys.readouterr().out == f"{version_line()}\n"


# -- start-up: answers that never import torch ------------------------------------------------
_PROBE = """
import sys
{before}
sys.argv = ["leapfactual", *{args!r}]
from leapfactual.cli.console import main
code = 0
try:
    main()
except SystemExit as stop:
    code = stop.code
print(
    f"exit={{code}} torch={{'torch' in sys.modules}} pydantic={{'pydantic' in sys.modules}}",
    file=sys.stderr,
)
"""


def start(tmp_path, *args: str, before: str = "") -> tuple[int, bool, str]:
    """Run the console script with ``args`` in a fresh interpreter (after the code
    ``before``): its exit code, whether torch was imported, and its stderr without the
    probe's line."""
    exit_code, loaded, err = probe(tmp_path, *args, before=before)
    return exit_code, loaded["torch"], err


def probe(tmp_path, *args: str, before: str = "") -> tuple[int, dict[str, bool], str]:
    """Like :func:`start`, with whether each of torch and pydantic was imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=list(args), before=before)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    *err, line = done.stderr.strip().splitlines()
    fields = dict(part.split("=") for part in line.split())
    loaded = {name: fields[name] == "True" for name in ("torch", "pydantic")}
    return int(fields["exit"]), loaded, "\n".join(err)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--version",), 0),
        (("--help",), 0),
        (("fit", "--help"), 0),
        (("fit", "--out", "run", "--bogus"), 2),  # a typo in a flag (typer's usage error)
        (("fit", "--out", "run", "--set", "vae.epochs=abc"), 2),  # a settings error
        (("fit", "--out", "run", "--stages", "vae,bogus"), 2),
        (("explain", "run", "--out", "o", "--solver", "bad"), 2),
        (("repair", "run", "--out", "o", "--lr", "0"), 2),  # a CFKD setting
    ],
)
def test_help_version_and_argument_errors_answer_without_torch(tmp_path, args, code) -> None:
    exit_code, torch_loaded, err = start(tmp_path, *args)
    assert exit_code == code, err
    assert not torch_loaded
    if code == 2:
        assert err.count("\n") <= 3 and "Traceback" not in err


def test_the_start_up_probe_sees_torch_where_it_was_imported(tmp_path) -> None:
    # the broken case: a start-up path that imports torch (here before the command runs)
    exit_code, torch_loaded, _ = start(tmp_path, "--version", before="import torch")
    assert exit_code == 0
    assert torch_loaded


_TYPER_HELP_FLAG = (
    "import typer.core, leapfactual.cli.app as app\n"
    "app._Group.get_help_option = typer.core.TyperGroup.get_help_option"
)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--version",), 0),
        (("--help",), 0),
        (("fit", "--help"), 0),
        (("--bogus",), 2),
        (("fit", "--out", "run", "--bogus"), 2),
    ],
)
def test_help_version_and_a_bad_flag_answer_without_pydantic(tmp_path, args, code) -> None:
    # typer converts option values with pydantic (half a second of imports); a bad flag is
    # reported before any value is converted, once the root's --help flag has a plain default
    exit_code, loaded, err = probe(tmp_path, *args)
    assert exit_code == code, err
    assert loaded == {"torch": False, "pydantic": False}


def test_typers_own_help_flag_imports_pydantic_before_a_bad_flag(tmp_path) -> None:
    # the broken case: the root group with typer's help flag (no default) as it comes
    args = ("fit", "--out", "run", "--bogus")
    exit_code, loaded, err = probe(tmp_path, *args, before=_TYPER_HELP_FLAG)
    assert exit_code == 2 and "No such option: --bogus" in err
    assert loaded == {"torch": False, "pydantic": True}
