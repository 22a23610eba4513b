"""Directories a job writes: one writer at a time, and never through a symbolic link.

:func:`exclusive` holds an advisory lock (``fcntl.flock``) on ``DIR/.leapfactual-lock`` for
as long as a job writes ``DIR`` (a run being fitted, an explain output); a second job gets a
one-line error naming the first one's pid. The kernel drops the lock when its holder exits,
however it exits (SIGKILL included), so a lock file left behind never blocks anyone; it is
never removed, since removing it would let two jobs lock two different files of one name.
:func:`subdirectory` makes a folder below a job's directory and refuses a symbolic link on
the way, so a planted link (``RUN/checkpoints/vae -> elsewhere``) is never written through.
:func:`clear` is ``--force``: it removes only what the job writes, keeps (and names) every
other entry and every link, and refuses a directory that is itself a link.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".leapfactual-lock"
"""The lock file in a directory being written; it holds the writer's pid and command."""


class DirectoryBusyError(ValueError):
    """Another job holds the lock of a directory this job would write."""


@contextmanager
def exclusive(directory: str | os.PathLike[str], job: str) -> Iterator[Path]:
    """Hold the lock of ``directory`` (created if missing) while the block runs; ``job``
    names what holds it (``fit``, ``explain``) in the error another job gets."""
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file; give a directory")
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ValueError(
                f"{lock} is a symbolic link; leapfactual never writes through links: "
                "remove it, or use another directory"
            ) from None
        raise
    try:
        _lock(fd, folder, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {job}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # releases the lock


def check_free(directory: str | os.PathLike[str]) -> None:
    """Raise :class:`DirectoryBusyError` (naming the holder's pid) if a job holds the lock of
    ``directory``; touches nothing (a directory without a lock file is free)."""
    folder = Path(directory)
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # no lock file (or a link, refused when the lock is taken)
    try:
        _lock(fd, folder, fcntl.LOCK_SH)
    finally:
        os.close(fd)


def clear(directory: str | os.PathLike[str], owned: Iterable[str]) -> list[str]:
    """Remove the entries of ``directory`` that its job writes (``--force`` of a job that
    holds the lock) and return the names of the others, which stay (sorted; a folder's name
    ends in ``/``).

    ``owned``: names or ``fnmatch`` patterns (``round-*``) of what the job writes; an
    atomic write's leftover temporary file (``.NAME.*.tmp``) of an owned name is owned too.
    The lock file stays, and so does every symbolic link (no job writes one: a planted
    ``shards -> elsewhere`` is then refused by :func:`subdirectory`). A ``directory`` that is
    a symbolic link is refused (:func:`refuse_link`).
    """
    folder = Path(directory)
    refuse_link(folder)
    patterns = tuple(owned)
    kept = []
    for path in sorted(folder.iterdir()):
        if path.name == LOCK_NAME:
            continue
        real_dir = path.is_dir() and not path.is_symlink()
        if path.is_symlink() or not _owned(path.name, patterns):
            kept.append(path.name + ("/" if real_dir else ""))
        elif real_dir:
            shutil.rmtree(path)
        else:
            path.unlink()
    return kept


def _owned(name: str, patterns: tuple[str, ...]) -> bool:
    temporary = re.fullmatch(r"\.(.+)\.\w+\.tmp", name)  # atomic_file's .NAME.XXXXXXXX.tmp
    names = (name, temporary[1]) if temporary else (name,)
    return any(fnmatch.fnmatchcase(n, p) for n in names for p in patterns)


def refuse_link(directory: str | os.PathLike[str]) -> None:
    """A ``ValueError`` if ``directory`` is a symbolic link: ``--force`` never removes anything
    through one (an ``--out`` linked to a project folder would empty the project)."""
    folder = Path(directory)
    if folder.is_symlink():
        raise ValueError(
            f"{folder} is a symbolic link (to {os.readlink(folder)}); --force never removes "
            "anything through a link: give the real directory, or drop --force"
        )


def kept_note(directory: str | os.PathLike[str], kept: list[str], shown: int = 10) -> str:
    """One line saying which entries ``--force`` kept in ``directory`` (not the job's)."""
    names = ", ".join(kept[:shown]) + (
        f" and {len(kept) - shown} more" if len(kept) > shown else ""
    )
    count = f"{len(kept)} {'entry' if len(kept) == 1 else 'entries'}"
    return f"--force kept {count} of {directory} that this job does not write: {names}"


def _lock(fd: int, folder: Path, mode: int) -> None:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split() or ["?"]
        raise DirectoryBusyError(
            f"{folder} is in use by another leapfactual job (pid {holder[0]}"
            + (f", {' '.join(holder[1:])}" if holder[1:] else "")
            + "); wait for it to finish, or use another directory"
        ) from None


def subdirectory(root: str | os.PathLike[str], *parts: str) -> Path:
    """``root/parts...``, created, after checking that no part below ``root`` is a symbolic
    link (a ``ValueError`` names the link)."""
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise ValueError(
                f"{path} is a symbolic link; leapfactual never writes through links (it "
                "would write into the linked folder): remove the link, or use another directory"
            )
        path.mkdir(exist_ok=True)
    return path
