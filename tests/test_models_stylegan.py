import math

import pytest
import torch
import torch.nn.functional as F

from ganvas.config import ModelConfig
from ganvas.models import MODELS, DataInfo
from ganvas.nn.style import ModulatedConv2d, minibatch_stddev

TINY = ModelConfig(z_dim=8, width=8, max_width=32, w_dim=16, map_layers=2)


def _build(num_classes=0, resolution=16):
    G, D = MODELS.get("stylegan").build(TINY, DataInfo("image", resolution=resolution, num_classes=num_classes))
    return G, D


def _z(n, seed=0, dim=8):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def test_num_ws_counts_every_conv_and_the_last_rgb_layer():
    G, _ = _build(resolution=16)
    # 4 px: one conv; 8 and 16 px: two convs each; plus the final RGB layer.
    assert G.num_ws == 1 + 2 + 2 + 1
    assert G.map(_z(3)).shape == (3, G.num_ws, 16)


def test_truncation_psi_zero_gives_the_average_image():
    G, _ = _build()
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(16, generator=torch.Generator().manual_seed(5)))
    G.eval()
    with torch.no_grad():
        a = G(_z(2, 1), truncation_psi=0.0)
        b = G(_z(2, 2), truncation_psi=0.0)
        avg = G.render(G.mapping.w_avg[None, None].repeat(1, G.num_ws, 1))
        free = G(_z(2, 1))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a[:1], avg)
    assert not torch.allclose(a, free)


def test_truncation_cutoff_only_touches_early_layers():
    G, _ = _build()
    G.eval()
    z = _z(2)
    with torch.no_grad():
        ws = G.map(z)
        cut = G.map(z, truncation_psi=0.5, truncation_cutoff=2)
    torch.testing.assert_close(cut[:, 2:], ws[:, 2:])
    torch.testing.assert_close(cut[:, :2], G.mapping.w_avg.lerp(ws[:, :2], 0.5))


def test_style_mixing_with_one_w_equals_no_mixing_and_another_w_changes_the_image():
    G, _ = _build()
    G.eval()
    with torch.no_grad():
        ws_a, ws_b = G.map(_z(2, 1)), G.map(_z(2, 2))
        plain = G(_z(2, 1))
        same = ws_a.clone()
        same[:, 3:] = ws_a[:, 3:]
        mixed = ws_a.clone()
        mixed[:, 3:] = ws_b[:, 3:]
        torch.testing.assert_close(G.render(same), plain)
        assert not torch.allclose(G.render(mixed), plain)


def test_mixing_drawn_outside_equals_mixing_drawn_inside_and_takes_later_layers_from_the_second_z():
    G, _ = _build()
    G.train()
    z = _z(3, 4)
    with torch.no_grad():
        G.noise_gen = torch.Generator().manual_seed(9)
        inside = G(z)
        G.noise_gen = torch.Generator().manual_seed(9)
        mix = G.draw_mixing(z, G.noise_gen)
        assert mix is not None  # (this seed mixes)
        outside = G(z, mix=mix)
        torch.testing.assert_close(outside, inside, rtol=0, atol=0)
        z2, cutoff = mix
        ws = G.map(z, update_w_avg=False)
        ws[:, int(cutoff):] = G.map(z2, update_w_avg=False)[:, int(cutoff):]
        torch.testing.assert_close(inside, G.render(ws), rtol=0, atol=0)
        assert not torch.equal(G(z, mix=None), inside)


def test_training_noise_comes_from_the_given_generator_only():
    G, _ = _build()
    G.mixing_prob = 0.0
    for layer in G.modules():
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(0.5)
    z = _z(2)
    out = []
    for seed in (1, 1, 2):
        G.noise_gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            out.append(G(z))
    torch.testing.assert_close(out[0], out[1])
    assert not torch.allclose(out[0], out[2])
    G.eval()  # eval mode ignores the generator: fixed noise, so a seed always gives one image
    with torch.no_grad():
        G.noise_gen = torch.Generator().manual_seed(1)
        e1 = G(z)
        G.noise_gen = torch.Generator().manual_seed(2)
        e2 = G(z)
    torch.testing.assert_close(e1, e2)


def test_w_avg_tracks_w_in_training_only():
    G, _ = _build()
    before = G.mapping.w_avg.clone()
    G.eval()
    with torch.no_grad():
        G(_z(4))
    torch.testing.assert_close(G.mapping.w_avg, before)
    G.train()
    with torch.no_grad():
        w = G.mapping(_z(4), None, update_w_avg=False)
        G(_z(4))
    torch.testing.assert_close(G.mapping.w_avg, w.mean(0).lerp(before, 0.995))


def test_modulated_conv_equals_convolving_with_per_sample_demodulated_weights():
    torch.manual_seed(0)
    conv = ModulatedConv2d(5, 7, 3, w_dim=6)
    x, w = torch.randn(3, 5, 8, 8), torch.randn(3, 6)
    got = conv(x, w)
    styles = conv.affine(w)
    for i in range(3):  # StyleGAN2 eq. 1-3, literally: w'_oik = s_i w_oik, w''_oik = w'_oik / sigma_o
        wi = conv.weight * conv.weight_gain * styles[i][None, :, None, None]
        wi = wi / (wi.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        torch.testing.assert_close(got[i: i + 1], F.conv2d(x[i: i + 1], wi, padding=1), atol=1e-5, rtol=1e-4)


def test_demodulated_output_has_unit_scale_for_unit_inputs():
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 64, 3, w_dim=8)
    out = conv(torch.randn(8, 64, 16, 16), torch.randn(8, 8) * 3)
    assert out[:, :, 1:-1, 1:-1].std().item() == pytest.approx(1.0, rel=0.1)


def test_minibatch_stddev_values():
    x = torch.zeros(4, 2, 1, 1)
    x[:, 0, 0, 0] = torch.tensor([0.0, 1.0, 2.0, 3.0])  # one group of 4 (group size 4): std of [0,1,2,3]
    out = minibatch_stddev(x, group_size=4)
    assert out.shape == (4, 3, 1, 1)
    expected = (math.sqrt(1.25) + math.sqrt(1e-8)) / 2  # mean over the 2 channels of their stds
    torch.testing.assert_close(out[:, 2].flatten(), torch.full((4,), expected))
    assert minibatch_stddev(torch.randn(6, 2, 2, 2), group_size=4).shape == (6, 3, 2, 2)  # 6 % 4: groups of 3


def test_discriminator_sees_batch_diversity():
    _, D = _build()
    D.eval()
    same = torch.randn(1, 3, 16, 16).repeat(4, 1, 1, 1)
    varied = same.clone()
    varied[1:] += torch.randn(3, 3, 16, 16)
    with torch.no_grad():  # the first image is identical; only the batch around it differs
        assert D(same)[0] != D(varied)[0]


def test_bad_resolution_is_refused():
    with pytest.raises(ValueError, match="power-of-two"):
        _build(resolution=24)


def test_bf16_autocast_runs_and_stays_close():
    G, D = _build()
    G.eval()
    z = _z(4)
    with torch.no_grad():
        ref = G(z)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = G(z)
            logits = D(low)
    assert low.dtype == torch.float32 and logits.dtype == torch.float32
    assert (low - ref).abs().max() < 0.1


def test_without_noise_inputs_training_output_ignores_the_noise_generator_and_all_weights_learn():
    import dataclasses

    torch.manual_seed(0)
    G, _ = MODELS.get("stylegan").build(dataclasses.replace(TINY, noise=False), DataInfo("image", resolution=16))
    assert not any("noise" in name for name, _ in G.named_parameters())
    assert not any("noise" in name for name, _ in G.named_buffers())
    G.mixing_prob = 0.0
    z = _z(2)
    out = []
    for seed in (1, 2):
        G.noise_gen = torch.Generator().manual_seed(seed)
        out.append(G(z))
    torch.testing.assert_close(out[0], out[1])
    out[0].square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in G.named_parameters() if n != "mapping.w_avg")


def _sized(resolution):
    """The same family at another resolution: width x resolution constant, as the auto preset keeps it."""
    cfg = ModelConfig(z_dim=8, width=128 // resolution, max_width=32, w_dim=16, map_layers=2, noise=False)
    return MODELS.get("stylegan").build(cfg, DataInfo("image", resolution=resolution))


def test_a_grown_generator_first_draws_the_smaller_ones_images_upsampled():
    G8, D8 = _sized(8)
    G16, D16 = _sized(16)
    state, new = G16.state_at_my_resolution(G8.state_dict())
    assert new == ["synthesis.blocks.2"]  # only the 16 px block is new
    G16.load_state_dict(state)
    z = _z(3)
    with torch.no_grad():  # (training mode: no clamp, so the skip sum is exact)
        small, big = G8(z), G16(z)
    torch.testing.assert_close(big, F.interpolate(small, scale_factor=2, mode="bilinear", align_corners=False))
    # The new block learns: its RGB output's weight gets a gradient from the first step.
    G16(z).square().sum().backward()
    assert G16.synthesis.blocks[2].torgb.conv.weight.grad.abs().sum() > 0


def test_a_grown_discriminator_keeps_the_lower_blocks_and_epilogue_under_new_names():
    _, D8 = _sized(8)
    _, D16 = _sized(16)
    state, new = D16.state_at_my_resolution(D8.state_dict())
    assert new == ["from_rgb", "blocks.0"]
    D16.load_state_dict(state)
    torch.testing.assert_close(D16.blocks[1].conv0.weight, D8.blocks[0].conv0.weight)
    torch.testing.assert_close(D16.fc.weight, D8.fc.weight)
    # Shrinking: the 8 px D takes the 16 px one's lower block and epilogue; only fromRGB is new.
    _, D8b = _sized(8)
    state, new = D8b.state_at_my_resolution(D16.state_dict())
    assert new == ["from_rgb"]
    D8b.load_state_dict(state)
    torch.testing.assert_close(D8b.blocks[0].conv1.weight, D16.blocks[1].conv1.weight)


def test_a_grown_generator_with_noise_inputs_lists_them_once_and_they_start_silent():
    G8, _ = _sized(8)  # no noise inputs, as the auto preset at 64 px and below
    cfg = ModelConfig(z_dim=8, width=8, max_width=32, w_dim=16, map_layers=2, noise=True)
    G16, _ = MODELS.get("stylegan").build(cfg, DataInfo("image", resolution=16))
    state, new = G16.state_at_my_resolution(G8.state_dict())
    assert new == ["synthesis.blocks.2", "noise inputs"]
    assert all(float(v) == 0 for k, v in state.items() if k.endswith("noise_strength"))


def test_transfer_across_resolutions_refuses_other_widths_and_the_same_resolution():
    G8, _ = _sized(8)
    wide = MODELS.get("stylegan").build(ModelConfig(z_dim=8, width=32, max_width=64, w_dim=16, map_layers=2),
                                        DataInfo("image", resolution=16))[0]
    with pytest.raises(ValueError, match="keep model.width x resolution the same"):
        wide.state_at_my_resolution(G8.state_dict())
    with pytest.raises(ValueError, match="same resolution"):
        _sized(8)[0].state_at_my_resolution(G8.state_dict())


def test_generating_writes_into_the_convolutions_output_with_the_same_values(monkeypatch):
    """Without autograd a synthesis layer's demodulation, bias, noise and activation reuse the
    convolution's output buffer (no new full-size tensor per op); with autograd they may not, and both
    give the same values bit for bit."""
    from ganvas.nn.style import SynthesisLayer

    torch.manual_seed(0)
    layer = SynthesisLayer(8, 8, w_dim=4, resolution=8).eval()
    with torch.no_grad():
        layer.noise_strength.fill_(0.3)
    x, w = torch.randn(2, 8, 8, 8), torch.randn(2, 4)
    outputs = []
    real_conv = F.conv2d

    def spy(*args, **kwargs):
        out = real_conv(*args, **kwargs)
        outputs.append(out)
        return out

    monkeypatch.setattr(F, "conv2d", spy)
    with torch.no_grad():
        fast = layer(x, w)
    assert fast.data_ptr() == outputs[-1].data_ptr()
    slow = layer(x, w)
    assert slow.requires_grad and slow.data_ptr() != outputs[-1].data_ptr()
    assert torch.equal(fast, slow.detach())


def test_synthesis_layer_adds_noise_and_bias_after_demodulation_with_the_same_values_and_gradients():
    """noise * strength and the bias are added to the demodulated convolution without forming their
    full-size sum, and the activation works in place: values and every gradient equal the plain formula."""
    from ganvas.nn.style import SynthesisLayer

    torch.manual_seed(0)
    layer = SynthesisLayer(6, 5, w_dim=4, resolution=8, up=True).train()
    with torch.no_grad():
        layer.noise_strength.fill_(0.3)
        layer.bias.copy_(torch.randn(5))
    x, w = torch.randn(3, 6, 4, 4), torch.randn(3, 4)
    got = layer(x, w, torch.Generator().manual_seed(7), in_gain=1.5)
    got.square().sum().backward()
    grads = {k: p.grad.clone() for k, p in layer.named_parameters()}
    layer.zero_grad()

    conv = layer.conv
    noise = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    demod = conv(x, w, 1.5)  # the modulated, demodulated convolution alone
    want = F.leaky_relu(demod + noise * layer.noise_strength + layer.bias[None, :, None, None], 0.2)
    want.square().sum().backward()
    torch.testing.assert_close(got, want)
    for k, p in layer.named_parameters():
        torch.testing.assert_close(grads[k], p.grad, msg=k)

