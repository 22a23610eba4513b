import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leapfactual.data import aspect_note, find_image_inputs, load_image_files, load_image_folder
from leapfactual.data.folder import evenly, load_image_inputs


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two classes given in reverse order, mixed formats, sizes and modes, and some clutter."""
    root = tmp_path / "pets"
    (root / "b_dog").mkdir(parents=True)
    (root / "a_cat").mkdir()
    (root / ".hidden").mkdir()
    Image.new("RGB", (20, 10), (255, 0, 0)).save(root / "a_cat" / "red.png")
    Image.new("RGBA", (7, 7), (0, 0, 255, 255)).save(root / "a_cat" / "blue.PNG")
    Image.new("L", (30, 30), 128).save(root / "b_dog" / "grey.jpg", quality=95)
    (root / "b_dog" / "notes.txt").write_text("not an image")
    Image.new("L", (5, 5), 0).save(root / ".hidden" / "skip.png")
    return root


def test_classes_are_sorted_folders_and_files_are_resized(folder: Path) -> None:
    data = load_image_folder(folder, size=8, channels=3, aspect="stretch")
    assert data.class_names == ["a_cat", "b_dog"] and data.name == "pets"
    assert data.images.shape == (3, 3, 8, 8) and data.images.dtype == torch.float32
    assert data.labels.tolist() == [0, 0, 1]
    blue, red, grey = data.images  # files are read in sorted order: blue.PNG, red.png
    assert torch.allclose(blue.mean((1, 2)), torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(red.mean((1, 2)), torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(grey, torch.full_like(grey, 128 / 255), atol=2 / 255)  # JPEG


def test_grey_conversion(folder: Path) -> None:
    data = load_image_folder(folder, size=5, channels=1, aspect="stretch")
    assert data.shape == (1, 5, 5)
    red = data.images[1, 0]
    # ITU-R 601-2 luma of pure red, as Pillow computes it: 299/1000 * 255
    assert torch.allclose(red, torch.full_like(red, round(0.299 * 255) / 255), atol=1 / 255)


def test_resize_keeps_a_pattern(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    half = np.zeros((32, 32), np.uint8)
    half[:, 16:] = 255
    Image.fromarray(half).save(tmp_path / "only" / "half.png")
    image = load_image_folder(tmp_path, size=8).images[0, 0]
    assert image[:, :3].max() < 0.05 and image[:, 5:].min() > 0.95


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="one sub-folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty has no PNG or JPEG"):
        load_image_folder(tmp_path)
    (tmp_path / "empty" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match=r"cannot read image .*broken\.png"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="channels must be 1"):
        load_image_folder(tmp_path, channels=2)
    with pytest.raises(ValueError, match="size must be a positive integer"):
        load_image_folder(tmp_path, size=0)


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` grey pixels but holds none (cheap to write)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    path.write_bytes(head + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def _tree(root: Path, classes: dict[str, int], colour: bool = False) -> Path:
    """``root/CLASS/i.png`` with ``classes[CLASS]`` 6x6 images each."""
    for cls, count in classes.items():
        (root / cls).mkdir(parents=True)
        for i in range(count):
            mode, value = ("RGB", (10 * i, 0, 0)) if colour else ("L", 10 * i)
            Image.new(mode, (6, 6), value).save(root / cls / f"{i}.png")
    return root


def test_channels_and_size_come_from_the_data(tmp_path: Path) -> None:
    grey = _tree(tmp_path / "grey", {"a": 2, "b": 1})
    data = load_image_folder(grey)
    assert data.shape == (1, 6, 6)  # grey PNGs stay grey; equal squares keep their side
    colour = _tree(tmp_path / "colour", {"a": 1, "b": 1}, colour=True)
    Image.new("L", (6, 6), 50).save(colour / "a" / "grey.png")
    data = load_image_folder(colour)
    assert data.shape == (3, 6, 6)  # one colour image makes all RGB, never silently grey
    assert torch.allclose(data.images[1], torch.full((3, 6, 6), 50 / 255))  # grey repeated
    assert torch.allclose(data.images[0, 0], torch.zeros(6, 6))  # 0.png: (0, 0, 0)
    # sides 4, 10, 12, 30 -> longer sides sorted, lower median: 10 (the 10x3 image)
    mixed = tmp_path / "mixed" / "x"
    mixed.mkdir(parents=True)
    for i, wh in enumerate([(4, 4), (10, 3), (12, 12), (30, 20)]):
        Image.new("L", wh, 0).save(mixed / f"{i}.png")
    assert load_image_folder(mixed.parent).shape == (1, 10, 10)
    assert load_image_folder(mixed.parent, size=5).shape == (1, 5, 5)


def test_palette_is_colour_only_with_a_colour_entry(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    grey = Image.new("P", (4, 4), 1)
    grey.putpalette([0, 0, 0, 90, 90, 90] + [0] * 762)
    grey.save(tmp_path / "p" / "grey.png")
    data = load_image_folder(tmp_path)
    assert data.shape == (1, 4, 4) and torch.allclose(data.images, torch.tensor(90 / 255))
    green = Image.new("P", (4, 4), 1)
    green.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    green.save(tmp_path / "p" / "green.png")
    data = load_image_folder(tmp_path)
    assert data.shape == (3, 4, 4)
    assert data.images[0].mean((1, 2)).tolist() == pytest.approx([0.0, 200 / 255, 0.0])


def test_transparency_is_composited_on_black(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    Image.new("RGBA", (4, 4), (200, 100, 0, 51)).save(tmp_path / "c" / "a.png")  # alpha 0.2
    Image.new("LA", (4, 4), (255, 0)).save(tmp_path / "c" / "b.png")  # fully transparent
    data = load_image_folder(tmp_path)
    expected = torch.tensor([200, 100, 0]) / 255 * 0.2
    assert torch.allclose(data.images[0].mean((1, 2)), expected, atol=1e-6)
    assert data.images[1].abs().max() == 0


def test_sixteen_bit_grey_is_scaled_by_65535(tmp_path: Path) -> None:
    (tmp_path / "deep").mkdir()
    values = np.random.default_rng(0).integers(0, 65536, size=(16, 16)).astype(np.uint16)
    values[0, 0] = 65535
    Image.fromarray(values).save(tmp_path / "deep" / "a.png")
    assert Image.open(tmp_path / "deep" / "a.png").mode.startswith("I")
    data = load_image_folder(tmp_path)
    assert data.shape == (1, 16, 16)
    truth = torch.from_numpy(values.astype(np.float32) / 65535)
    assert torch.allclose(data.images[0, 0], truth, atol=1e-6)  # not saturated at 1
    assert float(data.images.mean()) == pytest.approx(float(truth.mean()), abs=1e-6)
    resized = load_image_folder(tmp_path, size=8, channels=3).images
    assert float(resized.mean()) == pytest.approx(float(truth.mean()), abs=0.02)


def test_float_images_outside_the_unit_range_are_refused(tmp_path: Path) -> None:
    for name, value in (("two.tif", 2.0), ("nan.tif", float("nan"))):
        Image.fromarray(np.full((4, 4), value, np.float32)).save(tmp_path / name)
        with pytest.raises(ValueError, match=rf"{name} \(mode F\) has values outside \[0, 1\]"):
            load_image_inputs([tmp_path / name], 4, 1)


@pytest.mark.parametrize(("side", "pixels"), [(20000, "400,000,000"), (10000, "100,000,000")])
def test_decompression_bombs_are_refused_in_one_line(
    tmp_path: Path, side: int, pixels: str
) -> None:
    (tmp_path / "c").mkdir()
    _png_header(tmp_path / "c" / "bomb.png", side, side)  # over the error / the warning limit
    for load in (lambda: load_image_folder(tmp_path), lambda: load_image_folder(tmp_path, 8, 1)):
        with pytest.raises(ValueError, match=rf"bomb\.png has {pixels} pixels, over Pillow") as e:
            load()
        assert "\n" not in str(e.value) and "MAX_IMAGE_PIXELS" in str(e.value)


def test_inputs_files_folders_trees_and_globs(tmp_path: Path, monkeypatch) -> None:
    tree = _tree(tmp_path / "pets", {"cat": 2, "dog": 1})
    monkeypatch.chdir(tmp_path)
    images, names, labels = load_image_inputs(["pets"], 4, 1)
    assert images.shape == (3, 1, 4, 4) and names == ["cat/0.png", "cat/1.png", "dog/0.png"]
    assert labels is not None and labels.tolist() == [0, 0, 1]
    images, names, labels = load_image_inputs([tree / "cat", tree / "dog" / "0.png"], 6, 3)
    assert names == [str(tree / "cat" / "0.png"), "1.png", str(tree / "dog" / "0.png")]
    assert labels is None and images.shape == (3, 3, 6, 6)
    assert torch.allclose(images[1], torch.tensor(10 / 255))
    _, names, _ = load_image_inputs(["pets/**/*.png"], 6, 1)
    assert names == ["cat/0.png", "cat/1.png", "dog/0.png"]  # relative to the pattern's folder
    _, names, _ = load_image_inputs(["pets/*/1.png", "pets/cat/1.png"], 6, 1)
    assert names == ["cat/1.png", "1.png"]  # the same file twice is kept, names differ
    other = _tree(tmp_path / "other", {"cat": 1, "fox": 1})
    assert load_image_inputs([tree, other], 6, 1)[2] is None  # class names differ
    assert load_image_inputs([tree, tree], 6, 1)[2].tolist() == [0, 0, 1, 0, 0, 1]
    assert load_image_inputs("pets/cat/0.png", 6, 1)[1] == ["0.png"]  # one spec alone


def test_input_errors_name_the_spec(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"pattern 'imgs/\*\.png' matches no PNG or JPEG image"):
        load_image_inputs(["imgs/*.png"], 4, 1)
    with pytest.raises(FileNotFoundError, match=r"nope\.png does not exist; give image files"):
        load_image_inputs(["nope.png"], 4, 1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty holds no PNG or JPEG images"):
        load_image_inputs(["empty"], 4, 1)
    with pytest.raises(ValueError, match="no images given"):
        load_image_inputs([], 4, 1)
    with pytest.raises(ValueError, match="channels must be 1"):
        load_image_inputs(["empty"], 4, 2)


def test_load_image_files_is_inputs_without_labels(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t", {"a": 2})
    images, names = load_image_files(tree / "a")
    assert images.shape == (2, 1, 28, 28) and names == ["0.png", "1.png"]
    same, _, _ = load_image_inputs([os.fspath(tree / "a")], 28, 1)
    assert torch.equal(images, same)


def test_a_pattern_through_looping_links_ends_and_stops_at_the_limit(
    tmp_path: Path, monkeypatch
) -> None:
    _tree(tmp_path / "fx", {"a": 2, "b": 1})
    (tmp_path / "fx" / "loop").mkdir()
    (tmp_path / "fx" / "loop" / "self").symlink_to(".")
    (tmp_path / "fx" / "loop" / "up").symlink_to("..")
    monkeypatch.chdir(tmp_path)
    _, names, _ = load_image_inputs(["fx/**/*.png"], 6, 1)
    assert names == ["a/0.png", "a/1.png", "b/0.png"]  # each folder walked once
    _, names, _ = load_image_inputs(["fx/**/*.png"], 6, 1, limit=2)
    assert names == ["a/0.png", "a/1.png"]
    _, names, _ = load_image_inputs(["fx/*/0.png", "fx/b/0.png", "fx/a"], 6, 1, limit=3)
    assert names == ["a/0.png", "b/0.png", "0.png"]  # the folder fx/a: checked, not read


def test_a_limited_class_tree_is_taken_evenly_and_counted(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t", {"a": 4, "b": 1, "c": 3})
    found = find_image_inputs([tree], limit=5)
    assert found.names == ["a/0.png", "a/1.png", "b/0.png", "c/0.png", "c/1.png"]
    assert found.labels is not None and found.labels.tolist() == [0, 0, 1, 2, 2]
    assert (found.found, found.balanced) == (8, True)
    whole = find_image_inputs([tree])
    assert (len(whole.files), whole.found, whole.balanced) == (8, 8, False)
    _, names, _ = load_image_inputs([tree], 6, 1, limit=3)
    assert names == ["a/0.png", "b/0.png", "c/0.png"]  # one of each, not a's first three


def test_counts_of_files_folders_and_patterns(tmp_path: Path, monkeypatch) -> None:
    _tree(tmp_path / "t", {"a": 3})
    monkeypatch.chdir(tmp_path)
    assert find_image_inputs(["t/a"], limit=2).found == 3  # a folder is listed whole
    assert find_image_inputs(["t/a/*.png"], limit=2).found is None  # it stopped at the limit
    assert find_image_inputs(["t/a/*.png"], limit=4).found == 3
    assert find_image_inputs(["t/a/0.png", "t/a"]).found == 4


def test_evenly_takes_each_class_in_turn() -> None:
    assert evenly([0, 0, 0, 1, 2, 2], 4) == [0, 1, 3, 4]
    assert evenly([0, 0, 1], 0) == [0, 1, 2] and evenly([0, 1], 5) == [0, 1]


def test_discovery_looks_at_a_bounded_number_of_entries(tmp_path: Path, monkeypatch) -> None:
    import leapfactual.data.folder as folder_module

    _tree(tmp_path / "t", {"a": 1, "z": 8})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(folder_module, "MAX_ENTRIES", 6)
    with pytest.raises(ValueError, match=r"pattern 't/\*\*/\*\.png' looked at over 6 files and "):
        load_image_inputs(["t/**/*.png"], 6, 1)
    with pytest.raises(ValueError, match=r"t/z holds over 6 entries; give a folder of images"):
        load_image_inputs(["t/z"], 6, 1)
    # with a limit, the walk stops before the large folder: nothing more is listed
    assert load_image_inputs(["t/**/*.png"], 6, 1, limit=1)[1] == ["a/0.png"]
    with pytest.raises(ValueError, match=r"t/z holds over 6 entries"):  # a class tree is
        load_image_inputs(["t"], 6, 1, limit=1)  # listed whole, to take its classes evenly
    with pytest.raises(ValueError, match=r"limit must be a whole number >= 0"):
        load_image_inputs(["t"], 6, 1, limit=-1)


@pytest.fixture
def wide(tmp_path: Path) -> Path:
    """A 24x48 px (height x width) text line: white, its middle third of columns black."""
    (tmp_path / "lines").mkdir()
    pixels = np.full((24, 48), 255, np.uint8)
    pixels[:, 16:32] = 0
    Image.fromarray(pixels).save(tmp_path / "lines" / "line.png")
    Image.new("L", (24, 24), 255).save(tmp_path / "lines" / "square.png")
    return tmp_path


def test_non_square_images_keep_their_shape_when_asked(wide: Path) -> None:
    image = load_image_folder(wide, size=(24, 48)).images[0, 0]
    assert image.shape == (24, 48)
    assert float(image[:, 20:28].max()) < 0.05 and float(image[:, :12].min()) > 0.95


def test_pad_fits_an_image_inside_with_black_bars(wide: Path) -> None:
    line = load_image_folder(wide, size=16).images[0, 0]  # 24x48 -> 8x16, centred
    assert float(line[:4].max()) == 0 and float(line[12:].max()) == 0  # the bars
    assert float(line[4:12, :4].min()) > 0.95 and float(line[4:12, 7:9].max()) < 0.05


def test_crop_covers_and_cuts_the_edges(wide: Path) -> None:
    line = load_image_folder(wide, size=16, aspect="crop").images[0, 0]  # 16x32, centre 16
    assert float(line[:, 6:10].max()) < 0.05 and float(line[:, 0].min()) > 0.95


def test_stretch_distorts_as_asked(wide: Path) -> None:
    line = load_image_folder(wide, size=16, aspect="stretch").images[0, 0]
    assert float(line[0].min()) < 0.05 and float(line[:, 0].min()) > 0.95  # no bars


def test_a_note_says_what_was_done(wide: Path) -> None:
    files = sorted((wide / "lines").iterdir())
    assert aspect_note(files, (24, 48), "pad") == (
        "1 of 2 images (e.g. 24x24 px, height x width) have another aspect ratio than 24x48: "
        "they were scaled to fit and padded with black (nothing stretched or cut); choose "
        "with aspect = pad, crop or stretch, or keep their shape with --image-size 24x24 (a "
        "codec that takes it: --codec)"
    )
    assert "centre-cropped" in (aspect_note(files, 16, "crop") or "")
    assert aspect_note(files[1:], 16, "stretch") is None  # every image square: nothing to say
    with pytest.raises(ValueError, match=r"unknown aspect 'fit' .*choose one of"):
        load_image_folder(wide, size=16, aspect="fit")
