"""The built-in emoji set: shipped file, count, categories, shapes, white background, speed."""

from __future__ import annotations

import time
from importlib import resources

import numpy as np
import pytest

from ganvas.data.emoji import EMOJI_FILE, load_emoji
from ganvas.errors import ConfigError

CATEGORIES = ["Activities", "Animals & Nature", "Food & Drink", "Objects", "People & Body",
              "Smileys & Emotion", "Symbols", "Travel & Places"]


@pytest.fixture(scope="module")
def emoji32():
    return load_emoji(32)


def test_file_is_shipped_small_with_notice():
    builtin = resources.files("ganvas.data").joinpath("builtin")
    size = len(builtin.joinpath(EMOJI_FILE).read_bytes())
    print(f"{EMOJI_FILE}: {size:,} bytes")
    assert size <= 5 * 1024 * 1024
    notice = builtin.joinpath("NOTICE").read_text()
    assert "CC-BY 4.0" in notice and "creativecommons.org/licenses/by/4.0" in notice and "Twitter" in notice


def test_count_and_categories(emoji32):
    print(f"{len(emoji32)} emoji")
    assert 1500 <= len(emoji32) <= 1800
    assert emoji32.name == "emoji"
    assert emoji32.label_names == CATEGORIES  # sorted; no "Flags", no "Component" (skin-tone swatches)
    assert emoji32.labels.dtype == np.int64 and emoji32.labels.shape == (len(emoji32),)
    counts = np.bincount(emoji32.labels, minlength=len(CATEGORIES))
    assert (counts >= 50).all(), dict(zip(CATEGORIES, counts))  # every category really present


@pytest.mark.parametrize("res", [8, 32, 64, 96])
def test_shapes(res):
    ds = load_emoji(res)
    assert ds.images.dtype == np.uint8 and ds.images.shape == (len(ds), 3, res, res)
    assert ds.resolution == res and ds.num_classes == len(CATEGORIES)


def test_white_background_and_real_content(emoji32):
    corners = emoji32.images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]  # [N, 3, 4]
    white_corners = (corners.min(axis=1) >= 240).mean()  # fraction of corner pixels that are white
    assert white_corners > 0.9, white_corners  # composited on white, not black (alpha dropped)
    assert np.median(corners) == 255
    nearly_blank = (emoji32.images.std(axis=(1, 2, 3)) < 5).sum()
    assert nearly_blank <= 2, nearly_blank  # only "white large square" is white on white


def test_downscale_is_antialiased():
    full, small = load_emoji(64), load_emoji(32)
    box = full.images.reshape(len(full), 3, 32, 2, 32, 2).astype(np.float32).mean(axis=(3, 5))
    assert np.abs(box - small.images).mean() < 6  # close to a 2x2 average, unlike point sampling
    np.testing.assert_array_equal(full.labels, small.labels)


def test_fingerprint_depends_on_resolution(emoji32):
    assert load_emoji(32).fingerprint == emoji32.fingerprint
    assert load_emoji(16).fingerprint != emoji32.fingerprint


def test_fast():
    t = time.perf_counter()
    load_emoji(32)
    assert time.perf_counter() - t < 1.0


@pytest.mark.parametrize("res", [4, 300, 32.0, "32"])
def test_bad_resolution(res):
    with pytest.raises(ConfigError):
        load_emoji(res)
