"""load_folder on a hostile folder the test builds itself: every bad file is skipped with its reason,
every odd-but-valid image comes out as the right RGB pixels, and nothing raises."""

from __future__ import annotations

import io
import json
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganvas.data import folder
from ganvas.data.folder import load_folder
from ganvas.errors import ConfigError, DataError
from ganvas.utils.files import cache_dir
from helpers import make_art_folder

pytestmark = pytest.mark.timeout(120)  # a regression that opens the FIFO would hang, not fail

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
R = 16  # every valid image below is 16x16 (or a multiple), so most outputs are exact pixels


# Section. Building the folder.


def solid(colour, size=(R, R), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def halves(left, right, size=(R, R)) -> Image.Image:
    a = np.zeros((size[1], size[0], 3), np.uint8)
    a[:, : size[0] // 2] = left
    a[:, size[0] // 2 :] = right
    return Image.fromarray(a)


def encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width=100_000, height=100_000) -> bytes:
    """A 60-byte PNG whose header claims 10 gigapixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b""))
            + png_chunk(b"IEND", b""))


def noise(size=(64, 64), seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def make_hostile(root: Path, outside: Path) -> None:
    root.mkdir()
    # Valid but odd.
    solid(100, mode="L").save(root / "gray.png")
    solid(0, mode="1").save(root / "bits.png")
    pal = Image.new("P", (R, R), 0)
    pal.putpalette([0, 255, 0, 0, 0, 255] + [0] * 762)  # index 0 green (transparent), 1 blue
    pal.paste(1, (R // 2, 0, R, R))
    pal.save(root / "palette_transparent.png", transparency=0)
    solid((200, 60, 40)).convert("CMYK").save(root / "cmyk.jpg", quality=95)
    Image.fromarray(np.full((R, R), 32768, np.uint16)).save(root / "gray16.png")  # mode I;16, mid-grey
    rgba = np.zeros((R, R, 4), np.uint8)
    rgba[:, : R // 2] = (0, 255, 0, 0)  # invisible green: must not leak into the output
    rgba[:, R // 2 :] = (255, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    la = np.zeros((R, R, 2), np.uint8)
    la[:, R // 2 :, 1] = 255  # left transparent, right opaque black
    Image.fromarray(la, "LA").save(root / "la.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display = rotate 90 degrees clockwise
    halves(RED, BLUE).save(root / "rotated.jpg", quality=95, subsampling=0, exif=exif.tobytes())
    solid(RED).save(root / "anim.gif", save_all=True, append_images=[solid(BLUE)], duration=100)
    solid((10, 20, 30)).save(root / "img.tiff")
    solid((40, 50, 60)).save(root / "img.webp", lossless=True)
    solid((70, 80, 90)).save(root / "img.bmp")
    solid((0, 0, 250)).save(root / "UPPER.JPG", quality=95)
    solid((250, 250, 0)).save(root / "img.jpeg", quality=95)
    (root / "sub").mkdir()
    solid((1, 2, 3)).save(root / "sub" / "nested.png")
    os.symlink("../gray.png", root / "sub" / "file_link.png")
    os.symlink("..", root / "sub" / "up")  # a loop back to the root
    os.symlink(".", root / "loop")  # a loop onto itself
    outside.mkdir()
    solid((4, 5, 6)).save(outside / "outside.png")
    os.symlink(outside, root / "linked")  # a symlinked folder is followed
    # Broken.
    (root / "empty.png").write_bytes(b"")
    full_png = encoded(noise(), "PNG")
    (root / "trunc.png").write_bytes(full_png[: len(full_png) // 2])
    full_jpg = encoded(noise(), "JPEG")
    (root / "trunc.jpg").write_bytes(full_jpg[: len(full_jpg) // 2])
    (root / "text.jpg").write_text("this is a shopping list, not a photo\n")
    (root / "bomb.png").write_bytes(bomb_png())
    os.symlink(root / "gone.png", root / "dangling.png")
    os.mkfifo(root / "pipe.png")  # opening it would block forever
    # Not images at all: passed over silently.
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "._rgba.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (root / "notes.txt").write_text("notes")
    (root / "meta.json").write_text("{}")
    (root / ".hidden").mkdir()
    solid(RED).save(root / ".hidden" / "secret.png")


USABLE = ["UPPER.JPG", "anim.gif", "bits.png", "cmyk.jpg", "gray.png", "gray16.png", "img.bmp", "img.jpeg",
          "img.tiff", "img.webp", "la.png", "linked/outside.png", "palette_transparent.png", "rgba.png",
          "rotated.jpg", "sub/file_link.png", "sub/nested.png"]
SKIPPED = {
    "bomb.png": "too many pixels, possible decompression bomb",
    "dangling.png": "broken symbolic link",
    "empty.png": "empty file (0 bytes)",
    "pipe.png": "not a regular file",
    "text.jpg": "not an image (the file contains text)",
    "trunc.jpg": "truncated or corrupt image data",
    "trunc.png": "truncated or corrupt image data",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    make_hostile(base / "art", base / "elsewhere")
    return base / "art"


def load_strict(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning may leak out either
        return load_folder(path, **kw)


def px(ds, name, y, x) -> tuple[int, ...]:
    """The output pixel (y, x) of the image that came from `name` (order: sorted relative paths)."""
    return tuple(int(v) for v in ds.images[USABLE.index(name), :, y, x])


def near(a, b, tol=12) -> bool:
    return all(abs(int(u) - int(v)) <= tol for u, v in zip(a, b))


# Section. The hostile folder.


def test_hostile_folder_usable_and_skipped(hostile):
    ds = load_strict(hostile, resolution=R, progress=False)
    assert ds.images.dtype == np.uint8 and ds.images.shape == (len(USABLE), 3, R, R)
    assert ds.labels is None and ds.label_names == [] and ds.name == str(hostile)
    got = {Path(s.path).relative_to(hostile).as_posix(): s.reason for s in ds.skipped}
    assert sorted(got) == sorted(SKIPPED)
    for name, reason in SKIPPED.items():
        assert got[name].startswith(reason), (name, got[name])
    assert all(Path(s.path).is_relative_to(hostile) for s in ds.skipped)


def test_hostile_folder_pixels(hostile):
    ds = load_strict(hostile, resolution=R, progress=False)
    assert px(ds, "gray.png", 5, 5) == (100, 100, 100)
    assert px(ds, "bits.png", 5, 5) == (0, 0, 0)
    assert px(ds, "gray16.png", 5, 5) in {(127, 127, 127), (128, 128, 128)}  # scaled, not clipped to white
    assert near(px(ds, "cmyk.jpg", 8, 8), (200, 60, 40))
    # Transparency composited over white, before any resizing; the hidden colour never shows.
    assert px(ds, "rgba.png", 8, 2) == WHITE and px(ds, "rgba.png", 8, 13) == RED
    assert px(ds, "palette_transparent.png", 8, 2) == WHITE and px(ds, "palette_transparent.png", 8, 13) == BLUE
    assert px(ds, "la.png", 8, 2) == WHITE and px(ds, "la.png", 8, 13) == (0, 0, 0)
    # EXIF orientation 6: the stored left half (red) is displayed on top.
    assert near(px(ds, "rotated.jpg", 2, 8), RED, 40) and near(px(ds, "rotated.jpg", 13, 8), BLUE, 40)
    assert px(ds, "anim.gif", 8, 8) == RED  # first frame
    assert px(ds, "img.tiff", 8, 8) == (10, 20, 30)
    assert px(ds, "img.webp", 8, 8) == (40, 50, 60)
    assert px(ds, "img.bmp", 8, 8) == (70, 80, 90)
    assert near(px(ds, "UPPER.JPG", 8, 8), (0, 0, 250))
    assert near(px(ds, "img.jpeg", 8, 8), (250, 250, 0))
    assert px(ds, "sub/file_link.png", 8, 8) == (100, 100, 100)
    assert px(ds, "linked/outside.png", 8, 8) == (4, 5, 6)


def test_configured_background(hostile):
    ds = load_strict(hostile, resolution=R, background=(0, 0, 255), progress=False)
    assert px(ds, "rgba.png", 8, 2) == BLUE and px(ds, "rgba.png", 8, 13) == RED
    assert px(ds, "palette_transparent.png", 8, 2) == BLUE
    assert px(ds, "la.png", 8, 2) == BLUE and px(ds, "la.png", 8, 13) == (0, 0, 0)


def test_deterministic_and_resized(hostile):
    a = load_folder(hostile, resolution=8, cache=False, progress=False)
    b = load_folder(hostile, resolution=8, cache=False, progress=False)
    assert a.images.shape == (len(USABLE), 3, 8, 8)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.fingerprint == b.fingerprint
    assert px(a, "img.tiff", 4, 4) == (10, 20, 30)  # a uniform image stays uniform after Lanczos


def test_lowered_pixel_limit_skips_big_image(tmp_path, monkeypatch):
    noise((40, 40)).save(tmp_path / "big.png")  # 1,600 px: over the limit, under Pillow's 2x error
    noise((20, 20)).save(tmp_path / "small.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    ds = load_strict(tmp_path, resolution=R, progress=False)
    assert len(ds) == 1
    assert [Path(s.path).name for s in ds.skipped] == ["big.png"]
    assert ds.skipped[0].reason.startswith("too many pixels")


def test_unreadable_file(tmp_path, monkeypatch):
    solid(RED).save(tmp_path / "ok.png")
    locked = tmp_path / "locked.png"
    solid(RED).save(locked)
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the open fail the way it would for a user
        real_open = open

        def fake_open(file, *args, **kw):
            if os.fspath(file) == str(locked):
                raise PermissionError(13, "Permission denied", str(locked))
            return real_open(file, *args, **kw)

        monkeypatch.setattr(folder, "open", fake_open, raising=False)
    ds = load_folder(tmp_path, resolution=R, progress=False)
    locked.chmod(0o644)
    assert len(ds) == 1
    assert [(Path(s.path).name, s.reason) for s in ds.skipped] == [("locked.png", "unreadable (permission denied)")]


@pytest.mark.parametrize("fit", ["crop", "pad", "stretch"])
def test_fit_geometry(tmp_path, fit):
    a = np.zeros((32, 64, 3), np.uint8)  # wide: red | green (middle half) | blue
    a[:, :16], a[:, 16:48], a[:, 48:] = RED, GREEN, BLUE
    Image.fromarray(a).save(tmp_path / "wide.png")
    img = load_folder(tmp_path, resolution=16, fit=fit, background=(255, 255, 255), progress=False).images[0]
    img = img.transpose(1, 2, 0).astype(int)  # [H, W, 3]
    if fit == "crop":  # the centre square is all green, with no bleeding from the cut-off bands
        assert (np.abs(img - GREEN) <= 2).all()
    elif fit == "pad":  # whole image 16x8, centred, white bars above and below
        assert (img[:4] == WHITE).all() and (img[12:] == WHITE).all()
        assert near(img[8, 1], RED, 40) and near(img[8, 8], GREEN, 2) and near(img[8, 14], BLUE, 40)
    else:  # squeezed horizontally, full height
        for y in (0, 8, 15):
            assert near(img[y, 1], RED, 40) and near(img[y, 8], GREEN, 2) and near(img[y, 14], BLUE, 40)


def test_large_photo_is_antialiased(tmp_path):
    # A fine checkerboard must average to grey when shrunk, not alias to black or white.
    board = (np.indices((512, 512)).sum(0) % 2 * 255).astype(np.uint8)
    Image.fromarray(board).convert("RGB").save(tmp_path / "board.png")
    img = load_folder(tmp_path, resolution=16, progress=False).images[0].astype(int)
    assert np.abs(img - 128).max() <= 3


# Section. Labels from subfolders.


def test_labels_subdirs(tmp_path):
    for rel in ["cats/b.png", "cats/a.png", "dogs/c.png", "stray.png"]:
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        solid(RED if rel.startswith("cats") else BLUE).save(tmp_path / rel)
    (tmp_path / "birds").mkdir()  # no images: not a class
    (tmp_path / "fish").mkdir()
    (tmp_path / "fish" / "broken.png").write_bytes(b"")  # no usable image: not a class
    (tmp_path / "dogs" / "puppies").mkdir()
    solid(BLUE).save(tmp_path / "dogs" / "puppies" / "d.png")  # deeper folders belong to their top folder
    ds = load_folder(tmp_path, resolution=R, labels="subdirs", progress=False)
    assert ds.label_names == ["cats", "dogs"] and ds.num_classes == 2
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == [0, 0, 1, 1]
    assert (ds.images[ds.labels == 0][:, 0] == 255).all() and (ds.images[ds.labels == 1][:, 2] == 255).all()
    got = {Path(s.path).relative_to(tmp_path).as_posix(): s.reason for s in ds.skipped}
    assert got == {"fish/broken.png": "empty file (0 bytes)", "stray.png": folder.NOT_IN_CLASS}

    unlabelled = load_folder(tmp_path, resolution=R, progress=False)
    assert len(unlabelled) == 5 and unlabelled.labels is None


def test_subdirs_without_subfolders_is_a_clear_error(tmp_path):
    solid(RED).save(tmp_path / "a.png")
    with pytest.raises(DataError, match="labels='none'"):
        load_folder(tmp_path, resolution=R, labels="subdirs", progress=False)


# Section. Folders that give nothing.


def test_empty_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DataError) as e:
        load_folder(tmp_path, resolution=R, progress=False)
    msg = str(e.value)
    assert "no image files" in msg and "looked at 1 file" in msg and ".png" in msg and ".webp" in msg
    assert "found .txt: 1" in msg


def test_only_bad_files(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"")
    (tmp_path / "c.jpg").write_text("not a photo")
    with pytest.raises(DataError) as e:
        load_folder(tmp_path, resolution=R, progress=False)
    msg = str(e.value)
    assert "no usable image" in msg and "all 3 image file(s) were skipped" in msg
    assert "empty file: 2" in msg and "not an image: 1" in msg and "Accepted formats" in msg
    assert len(msg.splitlines()) == 1


def test_missing_path_and_file_path(tmp_path):
    with pytest.raises(DataError, match="does-not-exist.*does not exist"):
        load_folder(tmp_path / "does-not-exist", resolution=R)
    solid(RED).save(tmp_path / "one.png")
    with pytest.raises(DataError, match="is a file"):
        load_folder(tmp_path / "one.png", resolution=R)


@pytest.mark.parametrize("kw", [{"resolution": 0}, {"resolution": 16.0}, {"fit": "zoom"}, {"labels": "dirs"},
                                {"background": (255, 255)}, {"background": (0, 0, 300)}])
def test_bad_settings(tmp_path, kw):
    solid(RED).save(tmp_path / "a.png")
    with pytest.raises(ConfigError):
        load_folder(tmp_path, **{"resolution": R, **kw})


def test_decode_bytes_matches_folder(tmp_path):
    data = encoded(halves(RED, BLUE, (48, 32)), "PNG")
    (tmp_path / "x.png").write_bytes(data)
    np.testing.assert_array_equal(folder.decode_bytes(data, R, fit="pad"),
                                  load_folder(tmp_path, resolution=R, fit="pad", progress=False).images[0])
    with pytest.raises(DataError, match="empty file"):
        folder.decode_bytes(b"", R)


# Section. The cache.


@pytest.fixture
def counted(monkeypatch):
    """Counts real decodes."""
    calls = []
    real = folder._decode

    def counting(path, *args):
        calls.append(path)
        return real(path, *args)

    monkeypatch.setattr(folder, "_decode", counting)
    return calls


@pytest.fixture
def small(tmp_path) -> Path:
    root = tmp_path / "small"
    root.mkdir()
    for i, c in enumerate([RED, GREEN, BLUE]):
        solid(c).save(root / f"{i}.png")
    (root / "bad.png").write_bytes(b"")
    return root


def test_second_load_uses_cache(small, counted):
    first = load_folder(small, resolution=R, progress=False)
    assert len(counted) == 3  # the empty file is skipped without decoding
    assert (cache_dir() / "datasets" / f"{first.fingerprint}.npz").is_file()
    second = load_folder(small, resolution=R, progress=False)
    assert len(counted) == 3  # nothing decoded again
    np.testing.assert_array_equal(first.images, second.images)
    assert second.skipped == first.skipped and second.fingerprint == first.fingerprint
    assert second.name == first.name and second.labels is None


def test_cache_survives_a_decoder_that_would_fail(small, monkeypatch):
    first = load_folder(small, resolution=R, progress=False)

    def boom(*args):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(folder, "_decode_or_reason", boom)
    np.testing.assert_array_equal(load_folder(small, resolution=R, progress=False).images, first.images)


@pytest.mark.parametrize("change", ["touch", "add", "remove", "resolution", "fit", "background", "labels"])
def test_cache_rebuilds_on_change(small, counted, change):
    kw = dict(resolution=R, progress=False)
    first = load_folder(small, **kw)
    n = len(counted)
    if change == "touch":
        st = (small / "0.png").stat()
        os.utime(small / "0.png", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    elif change == "add":
        (small / "sub").mkdir()
        solid(WHITE).save(small / "sub" / "3.png")
    elif change == "remove":
        (small / "1.png").unlink()
    elif change == "resolution":
        kw["resolution"] = 8
    elif change == "fit":
        kw["fit"] = "pad"
    elif change == "background":
        kw["background"] = (0, 0, 0)
    else:
        kw["labels"] = "subdirs"
        (small / "cls").mkdir()
        solid(WHITE).save(small / "cls" / "w.png")
    second = load_folder(small, **kw)
    assert len(counted) > n, "nothing was decoded: the stale cache was used"
    assert second.fingerprint != first.fingerprint
    expected = {"add": 4, "remove": 2, "labels": 1}.get(change, 3)
    assert len(second) == expected


def test_corrupt_cache_rebuilds(small, counted):
    first = load_folder(small, resolution=R, progress=False)
    cache_file = cache_dir() / "datasets" / f"{first.fingerprint}.npz"
    for garbage in [b"", b"PK\x03\x04 not really a zip", cache_file.read_bytes()[:200]]:
        cache_file.write_bytes(garbage)
        n = len(counted)
        again = load_folder(small, resolution=R, progress=False)
        assert len(counted) == n + 3
        np.testing.assert_array_equal(again.images, first.images)
    with np.load(cache_file) as z:  # the rebuilt cache is whole again
        assert z["images"].shape == first.images.shape


def test_cache_false_writes_nothing(small):
    load_folder(small, resolution=R, cache=False, progress=False)
    assert not (cache_dir() / "datasets").exists()


def test_progress_bar_on_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(folder, "PROGRESS_MIN_FILES", 2)
    for i in range(3):
        solid((i, i, i)).save(tmp_path / f"{i}.png")
    load_folder(tmp_path, resolution=R, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "3/3" in err
    load_folder(tmp_path, resolution=R, cache=False, progress=False)
    assert capsys.readouterr().err == ""


def test_a_run_folder_is_refused_as_data_with_the_data_it_trained_on(tmp_path):
    run = tmp_path / "run"
    make_art_folder(run / "grids", n=3)  # the sample grids a run writes from its start
    (run / "config.json").write_text(json.dumps({"data": {"source": "/art/my set"}}))
    with pytest.raises(DataError, match=r"is a ganvas run folder \(its images are samples, not data\); give a "
                                        r"folder of images, such as the data this run trained on \(/art/my set\)"):
        load_folder(run, resolution=16, progress=False)
    (run / "config.json").write_text("{damaged")
    with pytest.raises(DataError, match=r"not data\); give a folder of images$"):
        load_folder(run, resolution=16, progress=False)
    (run / "config.json").unlink()  # a folder that merely holds a grids/ subfolder is data
    assert len(load_folder(run, resolution=16, progress=False)) == 3


def test_a_run_folder_inside_the_data_is_passed_over(tmp_path):
    from ganvas.data.inspect import inspect_folder

    art = make_art_folder(tmp_path / "art", n=5)
    run = art / "runs" / "first"  # e.g. --out art/runs/first: its grids must not become training data
    make_art_folder(run / "grids", n=3)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "ckpt-0000000064.pt").write_bytes(b"state")
    assert len(load_folder(art, resolution=16, progress=False)) == 5
    report = inspect_folder(art)
    assert report["images"] == 5 and report["run_folders"] == ["runs/first"]
    from ganvas.cli.data import format_report

    assert "  run folders: runs/first  (passed over: ganvas runs hold samples, not data)" in format_report(report)
    (run / "checkpoints" / "ckpt-0000000064.pt").unlink()  # no checkpoint, no config: a plain folder again
    assert len(load_folder(art, resolution=16, progress=False)) == 8
