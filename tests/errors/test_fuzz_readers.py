"""Fuzzing the file readers: whatever the bytes, a reader either loads or raises a clean error
(a ``ValueError`` or ``OSError``, which the CLI prints as one line), never anything else.

Each reader starts from a good file and gets bytes flipped, cut or appended, or JSON values
replaced; safetensors files are also fuzzed with their sidecar's hash updated, so the header
checks behind the hash are reached. Small ``max_examples`` keep this fast."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leapfactual.data.folder import load_image_files
from leapfactual.data.idx import read_idx
from leapfactual.explain import Explanation
from leapfactual.io import load_tensors, save_tensors
from leapfactual.pipeline import load_run

CLEAN = (ValueError, OSError)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def damaged(draw: st.DrawFn, good: bytes) -> bytes:
    """``good`` with some bytes overwritten, then maybe cut short or extended."""
    raw = bytearray(good)
    for _ in range(draw(st.integers(0, 6))):
        if raw:
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.none() | st.integers(0, len(raw)))
    raw = raw[:cut] if cut is not None else raw
    return bytes(raw) + draw(st.binary(max_size=16))


def loads_or_refuses(read: Callable[[], object]) -> None:
    with contextlib.suppress(CLEAN):
        read()


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz_pair")
    return save_tensors(root / "w", {"w": torch.arange(6.0).reshape(2, 3), "i": torch.ones(2)}, {})


@FUZZ
@given(data=st.data(), rehash=st.booleans())
def test_safetensors_and_sidecar(pair: Path, tmp_path_factory, data, rehash: bool) -> None:
    folder = tmp_path_factory.mktemp("st")
    tensor = folder / "w.safetensors"
    tensor.write_bytes(data.draw(damaged(pair.read_bytes())))
    meta = json.loads(pair.with_suffix(".json").read_text())
    if rehash:
        meta["sha256"] = hashlib.sha256(tensor.read_bytes()).hexdigest()
    if data.draw(st.booleans()):
        meta[data.draw(st.sampled_from(sorted(meta)))] = data.draw(JSON)
    (folder / "w.json").write_text(json.dumps(meta))
    loads_or_refuses(lambda: load_tensors(folder / "w"))


@FUZZ
@given(data=st.data())
def test_run_json(tiny_run, tmp_path_factory, data) -> None:
    run = tmp_path_factory.mktemp("run") / "run"
    shutil.copytree(tiny_run.directory, run, ignore=shutil.ignore_patterns("checkpoints"))
    meta = json.loads((run / "run.json").read_text())
    _replace_somewhere(meta, data)
    text = json.dumps(meta)
    if data.draw(st.booleans()):
        text = data.draw(damaged(text.encode())).decode("utf-8", "replace")
    (run / "run.json").write_text(text)
    loads_or_refuses(lambda: load_run(run, dataset=tiny_run.dataset))


def _replace_somewhere(value: Any, data: st.DataObject) -> None:
    """Replace one entry, at any depth, of a JSON object with a fuzzed value."""
    while isinstance(value, dict) and value:
        key = data.draw(st.sampled_from(sorted(value)))
        if not isinstance(value[key], dict) or data.draw(st.booleans()):
            value[key] = data.draw(JSON)
            return
        value = value[key]


@pytest.fixture(scope="module")
def explanation(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz_exp")
    probs = torch.full((2, 3), 1 / 3)
    exp = Explanation("m", torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4), torch.zeros(2).long(),
                      torch.ones(2).long(), probs, probs, steps=torch.ones(2).long())  # fmt: skip
    exp.save(root)
    return root


@FUZZ
@given(data=st.data())
def test_explanation(explanation: Path, tmp_path_factory, data) -> None:
    folder = tmp_path_factory.mktemp("exp")
    shutil.copytree(explanation, folder, dirs_exist_ok=True)
    tensors, meta = load_tensors(folder / "explanation")
    if data.draw(st.booleans()):
        name = data.draw(st.sampled_from(sorted(tensors)))
        shape = data.draw(st.lists(st.integers(0, 3), max_size=3))
        tensors[name] = torch.zeros(
            shape, dtype=data.draw(st.sampled_from([torch.long, torch.float]))
        )
    if data.draw(st.booleans()):
        tensors.pop(data.draw(st.sampled_from(sorted(tensors))))
    _replace_somewhere(meta, data)
    keep = {k: v for k, v in meta.items() if k not in ("tensors", "save_id", "sha256")}
    try:
        save_tensors(folder / "explanation", tensors, keep)
    except CLEAN:  # a fuzzed value JSON cannot hold (NaN): refused when written
        return
    loads_or_refuses(lambda: Explanation.load(folder))


def _idx(dims: tuple[int, ...], data: bytes) -> bytes:
    return bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + data


@FUZZ
@given(data=st.data(), packed=st.booleans())
def test_idx(tmp_path_factory, data, packed: bool) -> None:
    raw = data.draw(damaged(_idx((3, 2, 2), bytes(range(12)))))
    path = tmp_path_factory.mktemp("idx") / "x-idx3-ubyte"
    path.write_bytes(gzip.compress(raw) if packed else raw)
    loads_or_refuses(lambda: read_idx(path))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, bytes]:
    from PIL import Image

    root = tmp_path_factory.mktemp("fuzz_images")
    out = {}
    for mode, suffix in [("L", "png"), ("RGB", "jpg"), ("I;16", "png"), ("P", "png")]:
        path = root / f"a.{suffix}"
        Image.new(mode, (6, 5)).save(path)
        out[f"{mode}.{suffix}"] = path.read_bytes()
    return out


@FUZZ
@given(data=st.data())
def test_image_files(images: dict[str, bytes], tmp_path_factory, data) -> None:
    name = data.draw(st.sampled_from(sorted(images)))
    path = tmp_path_factory.mktemp("img") / f"x.{name.split('.')[-1]}"
    path.write_bytes(data.draw(damaged(images[name])))
    loads_or_refuses(lambda: load_image_files([path], size=8, channels=1))
