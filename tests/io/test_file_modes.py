"""Files are written with the user's umask (mkstemp alone would make every file 0600)."""

import os
import stat

import pytest
import torch

from leapfactual.io import atomic_write_text, files, save_tensors


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_files_follow_the_umask(tmp_path, mask: int) -> None:
    old = os.umask(mask)
    files._umask.cache_clear()
    try:
        atomic_write_text(tmp_path / "page.html", "<p>")
        save_tensors(tmp_path / "x", {"a": torch.zeros(2)}, {})
    finally:
        os.umask(old)
        files._umask.cache_clear()
    for name in ("page.html", "x.safetensors", "x.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name
