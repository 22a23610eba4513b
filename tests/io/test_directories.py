"""One writer per directory (a flock naming its holder's pid), and no writing through links."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leapfactual.io import LOCK_NAME, DirectoryBusyError, check_free, exclusive, subdirectory


def test_a_second_writer_gets_the_first_ones_pid(tmp_path: Path) -> None:
    with exclusive(tmp_path / "out", "fit"):
        assert (tmp_path / "out" / LOCK_NAME).read_text().split() == [str(os.getpid()), "fit"]
        with (
            pytest.raises(DirectoryBusyError, match=rf"in use by another .*pid {os.getpid()}, fit"),
            exclusive(tmp_path / "out", "explain"),
        ):
            pass
        with pytest.raises(DirectoryBusyError, match=rf"pid {os.getpid()}"):
            check_free(tmp_path / "out")
    check_free(tmp_path / "out")
    check_free(tmp_path / "never_made")  # touches nothing
    assert not (tmp_path / "never_made").exists()
    with exclusive(tmp_path / "out", "explain"):  # released when the holder is done
        pass


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path: Path) -> None:
    code = (
        "import sys, os\n"
        "from leapfactual.io import exclusive\n"
        "with exclusive(sys.argv[1], 'fit'):\n"
        "    print(os.getpid(), flush=True)\n"
        "    sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        pid = holder.stdout.readline().strip()
        with pytest.raises(DirectoryBusyError, match=rf"pid {pid}, fit"), exclusive(tmp_path, "x"):
            pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive(tmp_path, "explain"):  # the kernel dropped the dead holder's lock
        pass


def test_a_linked_lock_file_or_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("keep")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="is a symbolic link"), exclusive(tmp_path / "out", "x"):
        pass
    assert (tmp_path / "elsewhere").read_text() == "keep"
    with pytest.raises(NotADirectoryError), exclusive(tmp_path / "elsewhere", "x"):
        pass


def test_subdirectory_refuses_a_planted_link(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "vae").symlink_to(tmp_path / "target")
    with pytest.raises(ValueError, match=r"checkpoints/vae is a symbolic link"):
        subdirectory(tmp_path / "run", "checkpoints", "vae")
    assert subdirectory(tmp_path / "run", "checkpoints", "flow").is_dir()
