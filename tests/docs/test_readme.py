"""The README's Python snippet runs as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
def test_the_python_snippet_runs(tmp_path, monkeypatch) -> None:
    (snippet,) = python_blocks(README.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(snippet, str(README), "exec"), scope)
    exp = scope["exp"]
    assert len(exp) == 64 and exp.x_cf.shape == (64, 1, 8, 8)  # type: ignore[attr-defined]
    assert exp.valid.float().mean() > 0.5  # type: ignore[attr-defined]
    assert os.path.isfile(tmp_path / "out" / "readme" / "explanation.json")
