"""Atomic writes: a file has its old content or its complete new content, and failures name the file."""

import pytest

from ganvas.utils.files import atomic_open, atomic_write_text


def test_a_failed_write_keeps_the_old_content_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "notes.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as f:
            f.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_file_in_the_way_of_the_folder_is_named_as_the_target(tmp_path):
    (tmp_path / "art").write_text("a file, not a folder")
    target = tmp_path / "art" / "sub" / "walk.gif"
    with pytest.raises(OSError) as err:
        atomic_write_text(target, "x")
    assert err.value.filename == str(target) and "a file is in the way of its folder" in err.value.strerror
