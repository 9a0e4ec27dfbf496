import pytest
import torch

from ganvas.augment import AUGMENTS, AdaptiveAugment, parse_ada_policy
from ganvas.augment.ada import ALL_OPS, COLOR_OPS
from ganvas.errors import ConfigError


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _pattern(n=1, size=16):
    """An asymmetric RGB pattern (no flip or rotation maps it to itself), repeated n times."""
    x = torch.linspace(-1, 1, 3 * size * size).reshape(1, 3, size, size)
    x = x + torch.arange(size)[None, None, None, :] * 0.01 * torch.arange(size)[None, None, :, None] ** 0.5
    return x.repeat(n, 1, 1, 1)


def _luma(x):
    return x.sum(dim=1)  # [N, H, W]: the projection on (1, 1, 1) up to a factor sqrt(3)


def test_p_zero_returns_the_input():
    x = torch.randn(4, 3, 16, 16)
    assert AdaptiveAugment()(x, _gen()) is x


@pytest.mark.parametrize("p", [0.5, 1.0])
def test_xflip_flips_exactly_a_fraction_p_over_two(p):
    # ADA applies the op with probability p, and an applied x-flip flips or not 50/50.
    x = _pattern(1000)
    out = AdaptiveAugment("xflip", p=p)(x, _gen())
    same = (out - x).abs().flatten(1).amax(1) < 1e-5
    flipped = (out - x.flip(-1)).abs().flatten(1).amax(1) < 1e-5
    assert (same ^ flipped).all()  # every image is exactly one of the two
    assert flipped.float().mean().item() == pytest.approx(p / 2, abs=0.05)


def test_rotate90_gives_the_four_rotations():
    x = _pattern(1000)
    out = AdaptiveAugment("rotate90", p=0.5)(x, _gen())
    matches = torch.stack([(out - x.rot90(k, dims=(2, 3))).abs().flatten(1).amax(1) < 1e-5 for k in range(4)])
    assert (matches.sum(0) == 1).all()
    frac = matches.float().mean(1)  # identity with probability 1 - 3p/4, each rotation with p/4
    assert frac[0].item() == pytest.approx(1 - 0.375, abs=0.05)
    assert all(f.item() == pytest.approx(0.125, abs=0.04) for f in frac[1:])


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_some_rotation_happens_with_probability_p(p):
    # Pre- and post-rotation each with 1 - sqrt(1 - p), so that P(any rotation) = p (Karras et al. 2020).
    aug = AdaptiveAugment("rotate", p=p)
    G = aug._geometry(4000, 16, 16, _gen())
    rotated = ~(G == torch.eye(3, dtype=G.dtype)).flatten(1).all(1)
    assert rotated.float().mean().item() == pytest.approx(p, abs=0.03)


def test_geometric_ops_keep_a_constant_image_constant():
    # Bilinear weights sum to 1 and reflection padding repeats image pixels, so no border value leaks in.
    level = torch.rand(64, 3, 1, 1) * 2 - 1
    x = level.expand(64, 3, 16, 16).contiguous()
    out = AdaptiveAugment("blit,geom", p=1.0)(x, _gen())
    assert torch.allclose(out, x, atol=1e-5)


def test_geometric_ops_move_pixels():
    x = _pattern(16)
    out = AdaptiveAugment("geom", p=1.0)(x, _gen())
    assert ((out - x).abs().flatten(1).amax(1) > 0.1).float().mean() > 0.9


def test_hue_and_saturation_keep_each_pixels_luma_and_change_its_colour():
    x = torch.rand(32, 3, 8, 8) * 2 - 1
    out = AdaptiveAugment("hue,saturation", p=1.0)(x, _gen())
    assert torch.allclose(_luma(out), _luma(x), atol=1e-5)
    assert ((out - x).abs().flatten(1).amax(1) > 0.05).all()


def test_luma_flip_negates_the_luma_and_keeps_the_chroma():
    x = torch.rand(200, 3, 8, 8) * 2 - 1
    out = AdaptiveAugment("lumaflip", p=1.0)(x, _gen())
    chroma = lambda t: t - t.mean(dim=1, keepdim=True)  # noqa: E731
    assert torch.allclose(chroma(out), chroma(x), atol=1e-5)
    kept = (_luma(out) - _luma(x)).abs().flatten(1).amax(1) < 1e-5
    negated = (_luma(out) + _luma(x)).abs().flatten(1).amax(1) < 1e-5
    assert (kept ^ negated).all() and 0.3 < negated.float().mean() < 0.7


def test_brightness_and_contrast_are_per_image_affine_maps_of_every_channel():
    x = torch.rand(16, 3, 8, 8) * 2 - 1
    out = AdaptiveAugment("brightness,contrast", p=1.0)(x, _gen())
    # out = c * x + b per image: fit c, b on channel 0 and check them on all channels.
    xs, ys = x.flatten(1), out.flatten(1)
    dx, dy = xs - xs.mean(1, keepdim=True), ys - ys.mean(1, keepdim=True)
    c = (dx * dy).sum(1) / dx.square().sum(1)
    b = ys.mean(1) - c * xs.mean(1)
    assert torch.allclose(out, c[:, None, None, None] * x + b[:, None, None, None], atol=1e-4)
    assert (c - 1).abs().max() > 0.1 and b.abs().max() > 0.05


def test_colour_pipeline_changes_the_mean_luma_only_when_p_is_positive():
    x = torch.rand(64, 3, 8, 8) * 2 - 1
    aug = AdaptiveAugment("color")
    assert torch.equal(aug(x, _gen()), x)
    aug.p = 1.0
    moved = (_luma(aug(x, _gen())).mean((1, 2)) - _luma(x).mean((1, 2))).abs()
    assert (moved > 0.01).float().mean() > 0.5


@pytest.mark.parametrize("size", [16, 32])
def test_channels_last_and_shape_are_kept(size):
    x = torch.randn(4, 3, size, size).contiguous(memory_format=torch.channels_last)
    out = AdaptiveAugment(p=0.8)(x, _gen())
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.is_contiguous(memory_format=torch.channels_last)
    plain = AdaptiveAugment(p=0.8)(x.contiguous(), _gen())
    assert plain.is_contiguous() and torch.allclose(plain, out, atol=1e-6)


def test_non_square_greyscale_and_bfloat16_inputs():
    g = torch.rand(4, 1, 12, 20) * 2 - 1
    assert AdaptiveAugment(p=1.0)(g, _gen()).shape == g.shape
    b = torch.randn(4, 3, 16, 16).bfloat16()
    out = AdaptiveAugment(p=0.5)(b, _gen())
    assert out.dtype == torch.bfloat16 and out.shape == b.shape


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = torch.randn(8, 3, 16, 16)
    aug = AdaptiveAugment(p=0.7)
    cpu = aug(x, _gen(3))
    gpu = aug(x.cuda(), _gen(3))
    assert gpu.device.type == "cuda" and torch.allclose(gpu.cpu(), cpu, atol=1e-4)


def test_controller_moves_p_towards_the_target():
    aug = AdaptiveAugment(speed_kimg=100)
    step = 3200 / (100 * 1000)
    assert aug.adjust(rt=0.9, n_images=3200) == pytest.approx(step)  # D overfits: more augmentation
    assert aug.adjust(rt=0.9, n_images=3200) == pytest.approx(2 * step)
    assert aug.adjust(rt=0.6, n_images=3200) == pytest.approx(2 * step)  # on target: unchanged
    assert aug.adjust(rt=0.1, n_images=3200) == pytest.approx(step)  # D underfits: less
    assert aug.adjust(rt=-1.0, n_images=10_000) == 0.0  # clamped at 0
    for _ in range(200):
        aug.adjust(rt=1.0, n_images=10_000)
    assert aug.p == aug.max_p < 1.0  # and below 1
    with pytest.raises(ValueError):
        aug.adjust(rt=1.5, n_images=1)


def test_state_dict_round_trip_through_a_weights_only_checkpoint(tmp_path):
    aug = AdaptiveAugment(target=0.7, speed_kimg=250)
    for _ in range(7):
        aug.adjust(rt=0.95, n_images=4096)
    path = tmp_path / "ada.pt"
    torch.save({"augment": aug.state_dict()}, path)
    state = torch.load(path, weights_only=True)["augment"]
    assert all(type(v) is float for v in state.values())
    fresh = AdaptiveAugment(target=0.7, speed_kimg=250)
    fresh.load_state_dict(state)
    assert fresh.p == aug.p and fresh.state_dict() == aug.state_dict()
    other = AdaptiveAugment(target=0.6, speed_kimg=250)
    with pytest.warns(UserWarning, match="target"):
        other.load_state_dict(state)
    assert other.p == aug.p and other.target == 0.6


def test_policies_and_registry():
    assert parse_ada_policy("bgc") == ALL_OPS
    assert parse_ada_policy("color") == COLOR_OPS
    assert parse_ada_policy("geom,xflip")[0] == "xflip"  # pipeline order, whatever the string's order
    aug = AUGMENTS.get("ada")("color,translation,cutout")  # the config's (DiffAugment) default policy
    assert isinstance(aug, AdaptiveAugment) and aug.ops == ALL_OPS and aug.p == 0.0
    assert AUGMENTS.get("ada")("blit").ops == ("xflip", "rotate90", "xint")
    with pytest.raises(ConfigError, match="unknown ADA op 'cutout'.*bgc"):
        AdaptiveAugment("blit,cutout")
    with pytest.raises(ConfigError, match="no ops"):
        AdaptiveAugment(" , ")
    with pytest.raises(ConfigError):
        AdaptiveAugment(target=1.5)



def test_resample_is_grid_sample_with_a_double_backward():
    """The warp's own autograd: forward equals grid_sample; first and second derivatives check numerically
    (an R1 penalty through ADA differentiates the warp twice, which CUDA's grid_sample cannot)."""
    import torch.nn.functional as F

    from ganvas.augment.ada import resample

    x = torch.randn(2, 3, 6, 5, dtype=torch.float64, generator=_gen(1)).requires_grad_()
    theta = torch.tensor([[[0.9, 0.3, 0.05], [-0.2, 1.1, 0.1]], [[1.2, -0.4, -0.3], [0.1, 0.8, 0.2]]],
                         dtype=torch.float64)
    grid = F.affine_grid(theta, [2, 3, 4, 7], align_corners=False)  # a different output size than the input
    ref = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    assert torch.equal(resample(x, grid), ref)
    assert torch.autograd.gradcheck(lambda t: resample(t, grid), (x,))
    assert torch.autograd.gradgradcheck(lambda t: resample(t, grid), (x,))


def test_r1_through_ada_matches_grid_sample_on_the_cpu():
    """The R1 gradient (double backward) through the full pipeline equals the one through torch's own
    grid_sample, which is twice differentiable on the CPU."""
    import torch.nn.functional as F

    import ganvas.augment.ada as ada

    w = torch.randn(4, 3, 3, 3, dtype=torch.float64, generator=_gen(2))

    def r1_grad():
        x = _pattern(4, 12).double().requires_grad_()
        y = ada.AdaptiveAugment(p=1.0)(x, _gen(3))
        (g,) = torch.autograd.grad(F.conv2d(y, w).tanh().sum(), x, create_graph=True)
        (gg,) = torch.autograd.grad(g.square().sum(), x)
        return gg

    ours = r1_grad()
    torch_own = lambda x, grid: F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection",  # noqa: E731
                                              align_corners=False)
    original, ada.resample = ada.resample, torch_own
    try:
        reference = r1_grad()
    finally:
        ada.resample = original
    assert ours.abs().max() > 0
    torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-12)


def test_a_fixed_p_ignores_the_controller_and_a_saved_state():
    aug = AdaptiveAugment(p=1.0, fixed=True)  # p = 1 is allowed when fixed (the controller stops at max_p)
    assert aug.adjust(rt=-1.0, n_images=100_000) == 1.0 and aug.p == 1.0
    aug.load_state_dict({"p": 0.25, "target": 0.6, "speed_kimg": 500.0})
    assert aug.p == 1.0
    assert "fixed=True" in repr(aug)
    moving = AdaptiveAugment(p=0.5)
    assert moving.adjust(rt=-1.0, n_images=100_000) < 0.5
