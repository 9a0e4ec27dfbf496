"""`ganvas data inspect`: the report's keys and values on a folder with known content, and errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganvas.cli import main
from ganvas.data.folder import NOT_IN_CLASS, load_folder
from ganvas.data.inspect import inspect_folder


def png_bytes(colour, size=(16, 16), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def known(tmp_path) -> Path:
    root = tmp_path / "known"
    for d in ("cats", "dogs"):
        (root / d).mkdir(parents=True)
    red = png_bytes((255, 0, 0))
    (root / "a.png").write_bytes(red)
    (root / "a_copy.png").write_bytes(red)  # duplicate of a.png
    Image.new("RGB", (32, 16), (0, 90, 0)).save(root / "cats" / "b.jpg")  # non-square
    Image.new("RGBA", (16, 16), (0, 0, 255, 128)).save(root / "cats" / "c.png")
    grey = png_bytes(77, mode="L")
    (root / "dogs" / "d.png").write_bytes(grey)
    (root / "dogs" / "d2.png").write_bytes(grey)  # duplicate of dogs/d.png
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (32, 16), (9, 9, 9)).save(root / "rot.jpg", exif=exif.tobytes())  # displayed 16x32
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not counted as an image")
    return root


def run_json(*args) -> dict:
    result = CliRunner().invoke(main, ["data", "inspect", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # exactly one JSON object, nothing else on stdout


def test_inspect_json_unlabelled(known):
    r = run_json(known)
    assert r["path"] == str(known) and r["labels_mode"] == "none"
    assert r["files_seen"] == 9 and r["image_files"] == 8 and r["images"] == 7
    assert r["other_files"] == {".txt": 1}
    assert r["skipped"] == [{"path": str(known / "empty.png"), "reason": "empty file (0 bytes)"}]
    assert r["labels"] == {} and r["subfolders"] == {"cats": 2, "dogs": 2}
    assert r["modes"] == {"RGB": 4, "L": 2, "RGBA": 1}
    assert r["formats"] == {"PNG": 5, "JPEG": 2}
    assert r["duplicates"] == 2
    assert r["duplicate_groups"] == [[str(known / "a.png"), str(known / "a_copy.png")],
                                     [str(known / "dogs" / "d.png"), str(known / "dogs" / "d2.png")]]
    assert r["non_square"] == 2
    res = r["resolutions"]
    assert res["width"] == {"min": 16, "median": 16, "max": 32}
    assert res["height"] == {"min": 16, "median": 16, "max": 32}  # rot.jpg counts as displayed: 16x32
    assert res["most_common"][0] == {"width": 16, "height": 16, "count": 5}
    assert {(c["width"], c["height"]) for c in res["most_common"]} == {(16, 16), (32, 16), (16, 32)}


def test_inspect_json_subdirs(known):
    r = run_json(known, "--labels", "subdirs")
    assert r["images"] == 4 and r["labels"] == {"cats": 2, "dogs": 2}
    assert {Path(s["path"]).name: s["reason"] for s in r["skipped"]} == {
        "a.png": NOT_IN_CLASS, "a_copy.png": NOT_IN_CLASS, "empty.png": NOT_IN_CLASS, "rot.jpg": NOT_IN_CLASS}
    assert r["duplicates"] == 1


def test_inspect_agrees_with_load_folder(tmp_path):
    Image.new("RGB", (20, 10), "white").save(tmp_path / "ok.png")
    full = png_bytes(0, size=(64, 64))
    noisy = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(noisy, "PNG")
    (tmp_path / "trunc.png").write_bytes(noisy.getvalue()[: len(noisy.getvalue()) // 2])
    (tmp_path / "text.jpg").write_text("hello")
    (tmp_path / "empty.gif").write_bytes(b"")
    (tmp_path / "header.png").write_bytes(full[:20])
    report = inspect_folder(tmp_path)
    ds = load_folder(tmp_path, resolution=8, progress=False)
    assert report["images"] == len(ds) == 1
    assert [(s["path"], s["reason"]) for s in report["skipped"]] == [(s.path, s.reason) for s in ds.skipped]
    assert len(report["skipped"]) == 4


def test_inspect_human_readable(known, tmp_path):
    result = CliRunner().invoke(main, ["data", "inspect", str(known)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "7 usable image(s)" in out and "cats 2, dogs 2" in out and "duplicates:  2" in out
    assert "empty.png: empty file (0 bytes)" in out and "not images:  .txt 1  (passed over" in out
    other = tmp_path / "other"
    other.mkdir()
    (other / "LICENSE").write_text("no extension")
    (other / "notes.txt").write_text("text")
    out = CliRunner().invoke(main, ["data", "inspect", str(other)]).stdout
    assert "not images:  (no extension) 1, .txt 1  (passed over" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_inspect_empty_folder_reports_zero(tmp_path):
    r = run_json(tmp_path)
    assert r["images"] == 0 and r["skipped"] == [] and r["resolutions"]["most_common"] == []


@pytest.mark.parametrize("make", ["missing", "file"])
def test_inspect_bad_path_exits_2(tmp_path, make):
    target = tmp_path / "nope"
    if make == "file":
        target.write_text("x")
    result = CliRunner().invoke(main, ["data", "inspect", str(target), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and str(target) in result.stderr
    assert ("does not exist" if make == "missing" else "is a file") in result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped DataError


def test_inspect_bad_labels_choice(tmp_path):
    result = CliRunner().invoke(main, ["data", "inspect", str(tmp_path), "--labels", "folders"])
    assert result.exit_code == 2 and "Traceback" not in result.output
