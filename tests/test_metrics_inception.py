"""pytorch-fid's FID Inception (metrics/inception_fid.py) and its state-dict path in the 'inception' extractor.

The real weights are not available to the tests, so a network with deterministic random weights stands in:
saved as a state dict, it must load through the extractor unchanged and give the same features as the
network it came from. The architecture itself is pinned by torchvision's parameter names and shapes and by
the parameter count of pytorch-fid's network.
"""

import re
import shutil

import pytest
import torch
import torch.nn.functional as F

from ganvas.errors import GanvasError
from ganvas.metrics import features
from ganvas.metrics.features import EXTRACTORS, build_extractor
from ganvas.metrics.inception_fid import FIDInceptionV3, load_fid_inception

# Known torchvision `Inception3` keys (as in pytorch-fid's pt_inception-2015-12-05-6726825d.pth) and shapes.
KNOWN_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.running_mean": (32,),
    "Conv2d_2b_3x3.conv.weight": (64, 32, 3, 3),
    "Conv2d_3b_1x1.conv.weight": (80, 64, 1, 1),
    "Conv2d_4a_3x3.bn.running_var": (192,),
    "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
    "Mixed_5b.branch5x5_1.conv.weight": (48, 192, 1, 1),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_5c.branch3x3dbl_3.conv.weight": (96, 96, 3, 3),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6a.branch3x3dbl_3.conv.weight": (96, 96, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6b.branch7x7dbl_2.conv.weight": (128, 128, 7, 1),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch3x3_2a.conv.weight": (384, 384, 1, 3),
    "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
    "Mixed_7b.branch_pool.conv.weight": (192, 1280, 1, 1),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.bn.bias": (192,),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}
TOP_LEVEL = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
             "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
             "Mixed_7a", "Mixed_7b", "Mixed_7c", "fc"]
# torchvision's inception_v3 has 27,161,264 parameters (1000 classes, with the auxiliary classifier). pytorch-fid
# drops the auxiliary classifier (conv0 128x768 + BN 256, conv1 768x128x5x5 + BN 1536, fc 768x1000 + 1000:
# 3,326,696) and widens fc to 1008 classes (+8 x 2049 = 16,392); its FID patches add no parameters.
PYTORCH_FID_PARAMETERS = 27_161_264 - 3_326_696 + 8 * 2049  # 23,850,960
CONV_LAYERS = 94  # BasicConv2d modules, each conv.weight + bn.{weight, bias, running_mean, running_var, num_batches}


def _images(n, size, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def _random_net(seed: int = 0) -> FIDInceptionV3:
    """All weights and BN statistics drawn from one seed, scaled so that activations stay O(1) through 94 layers."""
    g = torch.Generator().manual_seed(seed)
    net = FIDInceptionV3()
    with torch.no_grad():
        for name, t in list(net.named_parameters()) + list(net.named_buffers()):
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("bn.weight"):
                t.copy_(torch.rand(t.shape, generator=g) * 0.4 + 0.8)
            elif t.ndim == 1:  # bn.bias, running_mean, fc.bias
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            else:  # conv / fc weight, He-scaled
                t.copy_(torch.randn(t.shape, generator=g) * (2 / t[0].numel()) ** 0.5)
    return net.eval()


@pytest.fixture(scope="module")
def random_net():
    return _random_net()


@pytest.fixture(scope="module")
def saved(random_net, tmp_path_factory):
    """(network, path of its state dict saved as "x.pth")."""
    net = random_net
    path = tmp_path_factory.mktemp("inception") / "x.pth"
    torch.save(net.state_dict(), path)
    return net, path


# The network.


def test_state_dict_has_torchvision_names_shapes_and_pytorch_fid_size():
    sd = FIDInceptionV3().state_dict()
    for key, shape in KNOWN_SHAPES.items():
        assert key in sd, key
        assert tuple(sd[key].shape) == shape, key
    assert sorted({k.split(".")[0] for k in sd}) == sorted(TOP_LEVEL)
    assert not any("AuxLogits" in k for k in sd)
    layer = re.compile(r"^(Conv2d_\w+|Mixed_\w+\.branch\w+)\.(conv\.weight|bn\.(weight|bias|running_mean|running_var|"
                       r"num_batches_tracked))$")
    assert all(layer.match(k) for k in sd if not k.startswith("fc.")), [k for k in sd if not layer.match(k)][:3]
    assert len(sd) == 6 * CONV_LAYERS + 2
    net = FIDInceptionV3()
    assert sum(p.numel() for p in net.parameters()) == PYTORCH_FID_PARAMETERS == 23_850_960
    assert all(m.eps == 1e-3 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert all(m.bias is None for m in net.modules() if isinstance(m, torch.nn.Conv2d))


def test_preprocessing_is_pytorch_fids():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ref = 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1
    out = FIDInceptionV3.preprocess(x)
    assert out.shape == (2, 3, 299, 299)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
    assert not torch.allclose(out, 2 * F.interpolate(x, size=(299, 299), mode="bicubic", align_corners=False) - 1)
    y = torch.rand(1, 3, 299, 299, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(FIDInceptionV3.preprocess(y), 2 * y - 1, atol=1e-6, rtol=0)  # [0, 1] -> [-1, 1]


def test_pool_branches_follow_the_tf_graph(random_net):
    net = random_net
    with torch.no_grad():
        # Average pools ignore the zero padding (count_include_pad=False): on a constant input the pool branch
        # (the last channels) is constant up to the borders.
        for block, c_in, c_pool, size in ((net.Mixed_5b, 192, 32, 7), (net.Mixed_6b, 768, 192, 7),
                                          (net.Mixed_7b, 1280, 192, 5)):
            out = block(torch.full((1, c_in, size, size), 0.7))[:, -c_pool:]
            assert out.abs().amax() > 0
            torch.testing.assert_close(out, out[:, :, :1, :1].expand_as(out), atol=1e-5, rtol=1e-5)
        # Mixed_7c max-pools in its pool branch.
        x = torch.randn(1, 2048, 5, 5, generator=torch.Generator().manual_seed(1))
        blk = net.Mixed_7c
        torch.testing.assert_close(blk(x)[:, -192:], blk.branch_pool(F.max_pool2d(x, 3, stride=1, padding=1)))
        assert not torch.allclose(blk(x)[:, -192:], blk.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1)))


# The extractor with a state dict.


def test_state_dict_loads_and_matches_the_network(saved):
    net, path = saved
    fx = EXTRACTORS.get("inception")(weights=str(path))
    assert fx.weights_path == path and fx.sha256 == features._sha256(path)
    a = _images(2, 32)
    out = fx(a)
    assert out.shape == (2, 2048) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert out.std() > 0 and not torch.allclose(out[0], out[1])  # not a degenerate network
    with torch.inference_mode():
        ref = net(a.float() / 255)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    assert fx(_images(2, 64, seed=1)).shape == (2, 2048)
    # Not the known file: its hash goes in the label.
    assert not fx.sha256.startswith(features.INCEPTION_STATE_DICT_SHA256_PREFIX)
    assert fx.label == f"FID (Inception state dict, sha256 {fx.sha256[:8]})"
    assert fx.score_label("KID") == f"KID (Inception state dict, sha256 {fx.sha256[:8]})"


def test_known_hash_is_labelled_plainly_and_recognised_without_the_suffix(saved, tmp_path, monkeypatch):
    _, path = saved
    other = tmp_path / "weights.bin"  # not .pth: only the hash says it is the state dict
    shutil.copyfile(path, other)
    monkeypatch.setattr(features, "INCEPTION_STATE_DICT_SHA256_PREFIX", features._sha256(path)[:8])
    fx = build_extractor("inception", weights=str(other))
    assert fx.feature_name is None and fx.label == "FID" and fx.score_label("KID") == "KID"
    assert fx(_images(1, 16)).shape == (1, 2048)


def test_file_without_num_batches_tracked_loads(saved, tmp_path):
    net, path = saved
    old_style = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(old_style, tmp_path / "old.pth")
    loaded = load_fid_inception(tmp_path / "old.pth")
    for k, v in net.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(loaded.state_dict()[k], v), k
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


@pytest.mark.parametrize("case", ["missing key", "wrong shape", "extra key", "not a dict", "garbage", "no file"])
def test_bad_state_dicts_are_user_errors_naming_the_file(saved, tmp_path, case):
    net, _ = saved
    path = tmp_path / "bad.pth"
    sd = dict(net.state_dict())
    expect = {"missing key": "missing keys: Mixed_6b.branch7x7_2.conv.weight",
              "wrong shape": r"wrong shape: fc.weight \(1000, 2048\) \(expected \(1008, 2048\)\)",
              "extra key": "unexpected keys: AuxLogits.fc.weight",
              "not a dict": "not a state dict", "garbage": "not a readable PyTorch state dict",
              "no file": "not found"}[case]
    if case == "missing key":
        del sd["Mixed_6b.branch7x7_2.conv.weight"]
    elif case == "wrong shape":
        sd["fc.weight"], sd["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    elif case == "extra key":
        sd["AuxLogits.fc.weight"] = torch.zeros(1000, 768)
    if case == "not a dict":
        torch.save([torch.zeros(3)], path)
    elif case == "garbage":
        path.write_bytes(b"these are not the weights you are looking for")
    elif case != "no file":
        torch.save(sd, path)
    with pytest.raises(GanvasError, match=expect) as e:
        build_extractor("inception", weights=str(path))
    assert str(path) in str(e.value)
