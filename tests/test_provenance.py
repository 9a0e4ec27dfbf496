"""Provenance stamps in every file format ganvas writes."""

import subprocess
import sys

import numpy as np
import pytest

from ganvas.errors import GanvasError
from ganvas.utils.provenance import NOTICE, provenance, save_mp4


def test_mp4_pads_odd_sizes_and_keeps_frames_and_notice(tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    # Three flat frames of distinct colours, 7 x 9 (odd both ways: H.264 in yuv420p needs even sizes).
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
    frames = [np.broadcast_to(np.array(c, np.uint8), (7, 9, 3)).copy() for c in colours]
    out = tmp_path / "v.mp4"
    save_mp4(frames, out, provenance("f00d", [3, 4], 0.7), fps=5)
    reader = imageio_ffmpeg.read_frames(str(out))
    info = next(reader)
    got = [np.frombuffer(f, np.uint8).reshape(8, 10, 3) for f in reader]
    assert info["size"] == (10, 8) and info["fps"] == 5 and len(got) == 3
    for frame, colour in zip(got, colours):  # the padded row and column repeat the edge: still one colour
        assert np.abs(frame.astype(int) - colour).max() < 12
    meta = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "ffmetadata", "-"],
                          capture_output=True, text=True, check=True).stdout
    assert f"description={NOTICE}" in meta and "ganvas:generator\\=f00d" in meta and "ganvas:truncation\\=0.7" in meta


def test_mp4_without_imageio_ffmpeg_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import fails as if not installed
    with pytest.raises(GanvasError, match=r"pip install 'ganvas\[video\]'; or write a \.gif"):
        save_mp4([np.zeros((8, 8, 3), np.uint8)], tmp_path / "v.mp4", provenance("f00d", 1))
    assert not (tmp_path / "v.mp4").exists()


def test_mp4_refuses_frames_without_the_notice_or_of_mixed_sizes(tmp_path):
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="provenance notice"):
        save_mp4([frame], tmp_path / "v.mp4", {"Comment": "hi"})
    with pytest.raises(ValueError, match="must all be uint8"):
        save_mp4([frame, np.zeros((8, 10, 3), np.uint8)], tmp_path / "v.mp4", provenance("f00d", 1))
