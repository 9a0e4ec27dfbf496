import json

import numpy as np
import pytest
import torch

from ganvas.augment.diffaugment import cutout
from ganvas.errors import GanvasError
from ganvas.metrics.features import build_extractor
from ganvas.metrics.leak import LEAK_TRANSFORMS, LeakReport, TransformLeak, combine_leak_reports, leak_check
from ganvas.utils.image import float_to_uint8, uint8_to_float


def glyphs(n: int, seed: int, size: int = 32) -> np.ndarray:
    """uint8 [n, 3, size, size]: a bright right triangle (right angle bottom-left, red left edge) at a random
    place, size and colour on a dark background. No rotation or flip maps it to itself."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    x = np.empty((n, 3, size, size), np.uint8)
    x[:] = rng.integers(0, 20, (n, 3, 1, 1))
    for i in range(n):
        s = rng.integers(12, 18)
        y0, x0 = rng.integers(0, size - s, 2)
        triangle = (yy - y0 >= xx - x0) & (yy < y0 + s) & (xx >= x0)
        x[i][:, triangle] = rng.integers(220, 256, (3, 1))
        x[i, 0, y0:y0 + s, x0:x0 + 3] = 255
    return x


@pytest.fixture(scope="module")
def fx():
    return build_extractor("random-conv")


@pytest.fixture(scope="module")
def real():
    return glyphs(300, seed=0)


@pytest.fixture(scope="module")
def fresh():
    return glyphs(150, seed=1)


def test_fresh_samples_of_the_data_do_not_leak(fx, real, fresh):
    report = leak_check(real, fresh, fx, batch_size=1024)
    assert set(report.transforms) == set(LEAK_TRANSFORMS)
    assert not report.leaked and not any(r.flagged for r in report.transforms.values())
    assert all(r.detectable for r in report.transforms.values())  # the glyph is asymmetric under every T
    assert report.summary.startswith("no augmentation leak")
    assert (report.n_reference, report.n_heldout, report.n_gen) == (150, 150, 150)
    json.dumps(report.to_dict())


def test_half_rotated_samples_leak_rot90_and_the_share_is_estimated(fx, real, fresh):
    half = len(fresh) // 2
    gen = np.concatenate([fresh[:half], np.rot90(fresh[half:], 1, axes=(2, 3))])
    report = leak_check(real, gen, fx, transforms=("rot90", "cutout"), batch_size=1024)
    rot90 = report.transforms["rot90"]
    assert rot90.flagged and "rot90" in report.summary
    assert rot90.fraction == pytest.approx(0.5, abs=0.15)
    # Half leaked, half not: transforming them on purpose moves the votes little, as it would for samples the
    # features are blind to, so this is a possible leak with a caveat, not counted in `leaked`.
    assert abs(rot90.power_ratio) < 0.5 and rot90.weak and rot90.state == "LEAK?" and not report.leaked
    assert report.summary.startswith("possible augmentation leak")
    assert "look at the samples before trusting that" in report.summary
    assert not report.transforms["cutout"].flagged


def test_vflipped_samples_leak_vflip(fx, real, fresh):
    report = leak_check(real, torch.from_numpy(fresh).flip(2), fx, transforms=("vflip",), batch_size=1024)
    assert report.leaked and report.transforms["vflip"].flagged and set(report.transforms) == {"vflip"}


def test_cutout_squares_are_found_on_pixels_and_washed_out_colours_are_not(fx, real, fresh):
    half = len(fresh) // 2
    cut = float_to_uint8(cutout(uint8_to_float(torch.from_numpy(fresh[half:])), torch.Generator().manual_seed(0)))
    report = leak_check(real, np.concatenate([fresh[:half], cut.numpy()]), fx, transforms=("cutout",))
    leak = report.transforms["cutout"]
    assert leak.flagged and leak.baseline == 0.0 and leak.control == 1.0
    assert leak.fraction == pytest.approx(0.5, abs=0.1)  # DiffAugment's square can fall mostly off the image
    washed_out = (fresh // 2 + 60).astype(np.uint8)  # greyish colours, no square
    assert not leak_check(real, washed_out, fx, transforms=("cutout",)).leaked
    # An untrained generator's near-zero output is mid-grey all over: a grey image, not a cut-out square.
    flat = (128 + np.random.default_rng(0).integers(-4, 5, fresh.shape)).astype(np.uint8)
    flat_grey = leak_check(real, flat, fx, transforms=("cutout",)).transforms["cutout"]
    assert flat_grey.rate == 0.0 and not flat_grey.flagged


def test_symmetric_data_is_not_detectable_and_not_flagged(fx):
    sym = glyphs(160, seed=2)
    sym[..., 16:] = sym[..., :16][..., ::-1]  # left-right mirror symmetric
    report = leak_check(sym, glyphs(80, seed=3)[..., ::-1].copy(), fx, transforms=("hflip",), batch_size=1024)
    hflip = report.transforms["hflip"]
    assert not hflip.detectable and not hflip.flagged and "not detectable" in report.summary
    assert hflip.min_share == 1.0  # nothing could be flagged, and the report stays strict JSON
    json.dumps(report.to_dict(), allow_nan=False)


def test_bad_inputs_and_non_square_images(fx, real):
    with pytest.raises(GanvasError, match="one size"):
        leak_check(real, real[:, :, :16, :16], fx)
    with pytest.raises(GanvasError, match="unknown leak-check transform"):
        leak_check(real, real, fx, transforms=("shear",))
    with pytest.raises(GanvasError, match="uint8"):
        leak_check(real.astype(np.float32), real, fx)
    wide = real[:40, :, :, :24]
    report = leak_check(wide, wide[:8], fx, transforms=("rot90", "hflip"))
    assert report.skipped == ("rot90",) and set(report.transforms) == {"hflip"} and "skipped rot90" in report.summary


def test_leak_cli_on_a_run(tmp_path):
    import json

    from helpers import TINY_TRAIN, make_art_folder, run_cli

    art = make_art_folder(tmp_path / "art", n=24)
    run_cli("train", "--data", str(art), "--out", str(tmp_path / "run"), "--kimg", "0.064", *TINY_TRAIN, check=True)
    proc = run_cli("leak", str(tmp_path / "run"), "--ref", str(art), "--num", "24", "--extractor", "random-conv",
                   "--json", check=True)
    out = json.loads(proc.stdout)
    assert set(out["verdicts"]) == {"rot90", "rot180", "vflip", "hflip", "cutout"}
    assert list(out["spaces"]) == ["random-conv seed 0"]
    assert isinstance(out["leaked"], bool) and out["resolution"] == 16 and out["summary"]
    # Two feature spaces: each has its table; cutout (a pixel test) runs once, in the first.
    both = json.loads(run_cli("leak", str(tmp_path / "run"), "--ref", str(art), "--num", "24", "--extractor",
                              "pixels,random-conv", "--json", check=True).stdout)
    assert list(both["spaces"]) == ["pixels 16x16", "random-conv seed 0"]
    assert "cutout" in both["spaces"]["pixels 16x16"]["transforms"]
    assert "cutout" not in both["spaces"]["random-conv seed 0"]["transforms"]
    text = run_cli("leak", str(tmp_path / "run"), "--ref", str(art), "--num", "24", "--extractor", "random-conv",
                   check=True).stdout
    assert "held-out real" in text and "in random-conv seed 0 features:" in text and "augmentation leak" in text
    bad = run_cli("leak", str(tmp_path / "nope"), "--ref", str(art))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    twice = run_cli("leak", str(tmp_path / "run"), "--ref", str(art), "--extractor", "pixels,pixels")
    assert twice.returncode == 2 and "different feature extractors" in twice.stderr


def test_samples_far_from_the_data_are_inconclusive_not_a_leak(fx, real):
    # Blotches of the glyphs' colours at random places: no glyph, so nearest-neighbour votes are arbitrary
    # and lean towards rot90's two candidates per image. Without the gates that reads as a leak.
    rng = np.random.default_rng(5)
    gen = np.repeat(np.repeat(rng.choice([10, 240], (150, 3, 4, 4)).astype(np.uint8), 8, axis=2), 8, axis=3)
    kw = dict(transforms=("rot90", "vflip"), batch_size=1024)
    off = dict(max_distance_ratio=float("inf"), min_margin_ratio=0, min_power_ratio=float("-inf"))
    assert leak_check(real, gen, fx, **off, **kw).leaked
    far = leak_check(real, gen, fx, **{**off, "max_distance_ratio": 1.2}, **kw)  # the distance gate alone holds
    assert not far.leaked and all(t.distance_ratio > 1.2 and not t.conclusive for t in far.transforms.values())
    faint = leak_check(real, gen, fx, **{**off, "min_margin_ratio": 0.75}, **kw)  # so does the margin gate alone
    assert not faint.leaked and all(t.margin_ratio < 0.75 and not t.conclusive for t in faint.transforms.values())
    report = leak_check(real, gen, fx, **kw)
    assert not report.leaked
    for t in report.transforms.values():
        assert not t.conclusive and t.state == "inconclusive"
    assert "inconclusive for rot90, vflip" in report.summary and "as decisive as real images'" in report.summary


def test_samples_without_orientation_are_inconclusive_by_their_vote_margins(fx, real, fresh):
    # Each glyph overlaid with its mirror image: near the data in shape and colour, but symmetric under vflip,
    # so a vote between upright and flipped references is decided by a hair (it reads as a leak ungated).
    gen = np.maximum(fresh, fresh[:, :, ::-1]).copy()
    ungated = leak_check(real, gen, fx, transforms=("vflip",), batch_size=1024, max_distance_ratio=float("inf"),
                         min_margin_ratio=0, min_power_ratio=float("-inf"))
    assert ungated.leaked
    report = leak_check(real, gen, fx, transforms=("vflip",), batch_size=1024, max_distance_ratio=float("inf"),
                        min_power_ratio=float("-inf"))
    vflip = report.transforms["vflip"]
    assert vflip.margin_ratio < 0.5 and not vflip.conclusive and not report.leaked
    # Flipping a mirror-symmetric image changes nothing, so its vote cannot move: no power to see a leak.
    assert report.transforms["vflip"].power_ratio == 0


def test_no_leak_needs_the_power_to_see_one(fx, real, fresh):
    fresh_report = leak_check(real, fresh, fx, transforms=("rot90", "vflip"), batch_size=1024)
    assert all(t.state == "ok" and t.power_ratio > 0.8 for t in fresh_report.transforms.values())
    doubtful = leak_check(real, fresh, fx, transforms=("rot90", "vflip"), batch_size=1024, min_power_ratio=1.5)
    assert not doubtful.leaked and all(t.state == "inconclusive" for t in doubtful.transforms.values())
    assert "moves their votes" in doubtful.summary and "a leak would not show in them" in doubtful.summary
    # A full leak, undone by transforming it again, moves the votes backwards: |power| is large, a LEAK.
    leak = leak_check(real, np.rot90(fresh, 2, axes=(2, 3)).copy(), fx, transforms=("rot180",), batch_size=1024)
    assert leak.leaked and leak.transforms["rot180"].power_ratio < -0.8 and leak.transforms["rot180"].state == "LEAK"
    assert "before trusting that" not in leak.summary
    # With |power| under the bar the same flag is only a possible leak, with a caveat.
    doubt = leak_check(real, np.rot90(fresh, 2, axes=(2, 3)).copy(), fx, transforms=("rot180",), batch_size=1024,
                       min_power_ratio=1.5)
    assert not doubt.leaked and doubt.transforms["rot180"].state == "LEAK?" and "before trusting that" in doubt.summary
    full = leak_check(real, np.rot90(fresh, 2, axes=(2, 3)).copy(), fx, transforms=("rot180",), batch_size=1024)
    assert full.leaked and "before trusting that" not in full.summary  # a full leak, undone by T: no doubt


def test_distance_ratio_is_about_one_for_fresh_samples_and_leaks_of_them(fx, real, fresh):
    report = leak_check(real, np.rot90(fresh, 2, axes=(2, 3)).copy(), fx, transforms=("rot180",), batch_size=1024)
    assert 0.8 < report.transforms["rot180"].distance_ratio < 1.2 and report.transforms["rot180"].flagged
    assert report.transforms["rot180"].margin_ratio > 0.75  # a real leak's votes are as decisive as real images'
    fresh_report = leak_check(real, fresh, fx, transforms=("rot90", "vflip"), batch_size=1024)
    assert all(t.margin_ratio > 0.75 and t.conclusive for t in fresh_report.transforms.values())



def _report(**states: str) -> LeakReport:
    """A LeakReport whose transforms have the given states (LEAK, ok, inconclusive, not detectable)."""
    transforms = {}
    for name, state in states.items():
        transforms[name] = TransformLeak(name, 0.5, 0.3, 0.8, 0.4 if state == "LEAK" else 0.0,
                                         detectable=state != "not detectable", flagged=state.startswith("LEAK"),
                                         conclusive=state in ("LEAK", "LEAK?", "ok"), weak=state == "LEAK?")
        assert transforms[name].state == state
    leaked = any(t.flagged and not t.weak for t in transforms.values())
    return LeakReport(transforms, leaked, f"summary with {sorted(states.items())}", 10, 10, 10)


def test_feature_spaces_combine_into_one_verdict():
    pixels = _report(rot90="ok", rot180="inconclusive", vflip="LEAK", hflip="not detectable")
    effnet = _report(rot90="inconclusive", rot180="inconclusive", vflip="ok", hflip="not detectable")
    out = combine_leak_reports({"pixels": pixels, "effnet": effnet})
    # A flag anywhere wins; an ok from a space with power outranks an inconclusive one; both blind: blind.
    assert out["verdicts"] == {"rot90": "ok", "rot180": "inconclusive", "vflip": "LEAK", "hflip": "not detectable"}
    assert out["leaked"] and out["summary"].startswith("augmentation leak: vflip (pixels)")
    assert pixels.summary in out["summary"] and effnet.summary in out["summary"]
    clean = combine_leak_reports({"pixels": _report(rot90="ok", vflip="inconclusive"),
                                  "effnet": _report(rot90="inconclusive", vflip="inconclusive")})
    assert not clean["leaked"] and clean["verdicts"] == {"rot90": "ok", "vflip": "inconclusive"}
    assert clean["summary"].startswith("no augmentation leak: rot90 (pixels)")
    assert "inconclusive in every feature space: vflip" in clean["summary"]
    json.dumps(clean)
    # A flag without the power to see it is a possible leak: it outranks an ok, but is not `leaked`.
    maybe = combine_leak_reports({"pixels": _report(rot90="LEAK?", vflip="ok"), "effnet": _report(rot90="ok")})
    assert not maybe["leaked"] and maybe["verdicts"] == {"rot90": "LEAK?", "vflip": "ok"}
    assert maybe["summary"].startswith("possible augmentation leak: rot90 (pixels)")
    one = combine_leak_reports({"effnet": effnet})  # one space: its own summary, unchanged
    assert one["summary"] == effnet.summary and one["verdicts"]["vflip"] == "ok"


def test_pixel_features_see_orientation_where_a_blurred_sample_keeps_its_layout(fx, real, fresh):
    # Blurred samples keep where their bright triangle sits: pixel votes still read their orientation
    # (power ~1) and judge them clean, where the conv features' votes lose it (inconclusive); a
    # half-rotated set of them is flagged in pixels.
    blur = torch.nn.functional.avg_pool2d(uint8_to_float(torch.from_numpy(fresh)), 3, stride=1, padding=1)
    soft = float_to_uint8(blur).numpy()
    pix = build_extractor("pixels")
    kw = dict(transforms=("rot90", "vflip"), batch_size=1024)
    clean = leak_check(real, soft, pix, **kw)
    assert not clean.leaked and all(t.state == "ok" and t.power_ratio >= 0.9 for t in clean.transforms.values())
    assert all(t.state == "inconclusive" for t in leak_check(real, soft, fx, **kw).transforms.values())
    half = len(soft) // 2
    leaky = np.concatenate([soft[:half], np.ascontiguousarray(np.rot90(soft[half:], 1, axes=(2, 3)))])
    rot90 = leak_check(real, leaky, pix, transforms=("rot90",), batch_size=1024).transforms["rot90"]
    assert rot90.flagged and 0.35 < rot90.fraction < 0.65


def test_no_leak_also_needs_enough_real_images_to_flag_one(fx, real, fresh):
    """With 10 held-out real images the baseline is too uncertain: even a leak in most images would stay
    within chance, so clean samples are inconclusive (with the reason), not ok; with 150 they are ok."""
    few = leak_check(real[:20], fresh, fx, transforms=["rot90", "vflip"])
    assert not few.leaked
    for t in few.transforms.values():
        assert t.power_ratio > 0.5 and t.min_share > 0.3 and t.state == "inconclusive"
    assert "would stand out from chance" in few.summary and "a larger --num" in few.summary
    many = leak_check(real, fresh, fx, transforms=["rot90", "vflip"])
    assert all(t.min_share <= 0.3 and t.state == "ok" for t in many.transforms.values())
    # No grey square in 10 samples against 5 held-out images is no evidence: 0 of 5 is not certainty.
    tiny = leak_check(real[:10], fresh[:10], fx, transforms=["cutout"]).transforms["cutout"]
    assert tiny.rate == tiny.baseline == 0.0 and tiny.min_share > 0.3 and tiny.state == "inconclusive"
    assert leak_check(real, fresh, fx, transforms=["cutout"]).transforms["cutout"].state == "ok"


def test_a_full_leak_with_drifted_colours_is_caught_by_its_votes_turning_back():
    """Every sample turned by 90 degrees and washed out: too far from the data (and voting too faintly) for
    the distance and margin gates, but rotating the samples on purpose turns their votes back (power near
    -1), which only samples that show rot90 themselves do. rot180 and vflip do not explain the samples
    (twice as far from the data as real images are): they stay inconclusive."""
    real, fresh, pix = glyphs(300, seed=0), glyphs(150, seed=1), build_extractor("pixels")
    gen = np.clip(np.rot90(fresh, 1, axes=(2, 3)).astype(int) + 30, 0, 255).astype(np.uint8)
    kw = dict(transforms=("rot90", "rot180", "vflip"), batch_size=1024)
    report = leak_check(real, gen, pix, **kw)
    rot90 = report.transforms["rot90"]
    assert rot90.distance_ratio > 1.2 and rot90.margin_ratio < 0.75 and rot90.power_ratio < -0.5
    assert rot90.state == "LEAK" and report.leaked and report.summary.startswith("augmentation leak")
    assert all(report.transforms[t].state == "inconclusive" for t in ("rot180", "vflip"))
    gated = leak_check(real, gen, pix, max_turned_distance_ratio=0.0, **kw)  # without the rule: unreadable
    assert not gated.leaked and gated.transforms["rot90"].state == "inconclusive"
