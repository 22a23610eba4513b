"""One writer per directory (a flock naming its holder's pid), no writing through links, and
``--force`` removing only what a job writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leapfactual.io import (
    LOCK_NAME,
    DirectoryBusyError,
    check_free,
    clear,
    exclusive,
    kept_note,
    refuse_link,
    subdirectory,
)


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


def _folder_of_a_job_and_a_user(tmp_path: Path) -> tuple[Path, Path]:
    """``out`` holding a job's files (one a leftover temporary file, one a folder) beside a
    user's and a link named like the job's, and a ``precious`` folder the link points to."""
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep")
    out = tmp_path / "out"
    (out / "round-0").mkdir(parents=True)
    (out / "round-0" / "file").write_text("x")
    for name in ("job.json", ".job.json.k2j4_x9a.tmp", "notes.txt", LOCK_NAME):
        (out / name).write_text("x")
    (out / "mine").mkdir()
    (out / "round-1").symlink_to(precious)
    return out, precious


def test_clear_removes_only_what_the_job_writes_and_names_the_rest(tmp_path: Path) -> None:
    out, precious = _folder_of_a_job_and_a_user(tmp_path)
    kept = clear(out, ("job.json", "round-*"))
    assert kept == ["mine/", "notes.txt", "round-1"]  # a link is never the job's
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [LOCK_NAME, "mine", "notes.txt", "round-1"]
    )
    assert (precious / "data.txt").read_text() == "keep"  # the link stays, never followed
    assert kept_note(out, kept) == (
        f"--force kept 3 entries of {out} that this job does not write: mine/, notes.txt, round-1"
    )
    assert kept_note(out, [f"f{i}" for i in range(12)], shown=2).endswith("f0, f1 and 10 more")


def test_clear_owning_nothing_keeps_everything(tmp_path: Path) -> None:
    out, _ = _folder_of_a_job_and_a_user(tmp_path)
    before = sorted(p.name for p in out.iterdir())
    assert len(clear(out, ())) == len(before) - 1  # all but the lock
    assert sorted(p.name for p in out.iterdir()) == before


def test_force_refuses_a_directory_that_is_a_link(tmp_path: Path) -> None:
    out, precious = _folder_of_a_job_and_a_user(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(out)
    for call in (lambda: refuse_link(link), lambda: clear(link, ("*",))):
        with pytest.raises(ValueError, match=r"link is a symbolic link \(to .*out\); --force"):
            call()
    assert (out / "job.json").is_file() and (precious / "data.txt").is_file()
    refuse_link(out)  # the real directory is fine
