"""2x resampling as depthwise convolutions, and ganvas's average pooling: the same function as torch's
bilinear upsampling and average pooling, gradients included."""

import pytest
import torch
import torch.nn.functional as F

from ganvas.nn.resample import Downsample2x, Upsample2x


def _x(*shape, dtype=torch.float64, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _bilinear(x):
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 4, 1, 1), (3, 2, 8, 8)])
def test_upsample_is_bilinear_interpolation(shape):
    x = _x(*shape).requires_grad_()
    up = Upsample2x(shape[1]).double()
    ours, ref = up(x), _bilinear(x)
    assert ours.shape == (shape[0], shape[1], 2 * shape[2], 2 * shape[3])
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
    g = _x(*ours.shape, seed=1)
    (ga,) = torch.autograd.grad(ours, x, g)
    (gb,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(ga, gb, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(2, 3, 6, 4), (1, 5, 2, 2)])
def test_downsample_is_average_pooling_with_its_double_backward(shape):
    """R1 differentiates D's input gradient, so the pooling's second derivative matters too."""
    w = _x(2, shape[1], 1, 1, seed=2)

    def r1(pool):
        x = _x(*shape).requires_grad_()
        y = F.conv2d(pool(x), w).tanh().sum()
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        (gg,) = torch.autograd.grad(g.square().sum(), x)
        return pool(x), g, gg

    down = Downsample2x(shape[1]).double()
    for a, b in zip(r1(down), r1(lambda t: F.avg_pool2d(t, 2))):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_channels_last_and_bfloat16_inputs():
    x = _x(2, 8, 6, 6, dtype=torch.float32).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    up, down = Upsample2x(8), Downsample2x(8)
    assert up(x).dtype == down(x).dtype == torch.bfloat16
    torch.testing.assert_close(up(x).float(), _bilinear(x.float()), rtol=0.02, atol=0.02)
    torch.testing.assert_close(down(x).float(), F.avg_pool2d(x.float(), 2), rtol=0.02, atol=0.02)


def test_kernels_are_not_in_the_state_dict():
    """Checkpoints written before these layers (and after) load the same: the kernels are constants."""
    net = torch.nn.Sequential(Upsample2x(4), Downsample2x(4))
    assert dict(net.state_dict()) == {}
    assert len(list(net.buffers())) == 2


def test_resample_setting_gives_the_same_networks():
    """model.resample=conv is a speed option: the same G and D function, and the same weights, as torch's ops."""
    from ganvas.config import build_config
    from ganvas.models import MODELS, DataInfo

    info = DataInfo("image", resolution=16, num_classes=0)
    nets = {}
    for kind in ("torch", "conv"):
        cfg = build_config(overrides={"model.name": "stylegan", "model.width": 8, "model.resample": kind})
        torch.manual_seed(0)
        nets[kind] = MODELS.get("stylegan").build(cfg.model, info)
    (G_t, D_t), (G_c, D_c) = nets["torch"], nets["conv"]
    assert G_t.state_dict().keys() == G_c.state_dict().keys() and D_t.state_dict().keys() == D_c.state_dict().keys()
    G_c.load_state_dict(G_t.state_dict())
    D_c.load_state_dict(D_t.state_dict())
    G_t.eval(), G_c.eval()
    z = _x(4, G_t.z_dim, dtype=torch.float32, seed=3)
    img_t, img_c = G_t(z), G_c(z)
    torch.testing.assert_close(img_c, img_t, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(D_c(img_t), D_t(img_t), rtol=1e-4, atol=1e-5)
    assert any(isinstance(m, Upsample2x) for m in G_c.modules())
    assert any(isinstance(m, Downsample2x) for m in D_c.modules())


def test_unknown_resample_setting_is_a_config_error():
    from ganvas.config import build_config
    from ganvas.errors import ConfigError

    with pytest.raises(ConfigError, match="model.resample"):
        build_config(overrides={"model.resample": "fir"})


def test_state_buffers_leave_out_the_constant_kernels():
    """The loop copies and rolls back only buffers that hold state (w_avg, noise), not resampling kernels."""
    from ganvas.config import build_config
    from ganvas.models import MODELS, DataInfo
    from ganvas.nn import state_buffers

    cfg = build_config(overrides={"model.name": "stylegan", "model.width": 8, "model.resample": "conv"})
    G, D = MODELS.get("stylegan").build(cfg.model, DataInfo("image", resolution=16))
    for net in (G, D):
        kept = {id(b) for b in state_buffers(net)}
        constant = {id(m.kernel) for m in net.modules() if isinstance(m, (Upsample2x, Downsample2x))}
        assert constant and not kept & constant
        assert kept | constant == {id(b) for b in net.buffers()}
    assert any(b is G.mapping.w_avg for b in state_buffers(G))


@pytest.mark.parametrize("shape", [(2, 3, 6, 4), (1, 5, 7, 8)])
def test_torch_pooling_is_avg_pool2d_at_every_order(shape):
    """model.resample=torch pools with F.avg_pool2d and its own backward (grad / 4, upsampled): the same values
    and gradients bit for bit, a right second derivative, odd sizes as avg_pool2d has them."""
    from ganvas.nn.resample import downsampler

    pool = downsampler(shape[1], "torch")
    x = _x(*shape).requires_grad_()
    ours, ref = pool(x), F.avg_pool2d(x, 2)
    assert torch.equal(ours, ref)
    g = _x(*ours.shape, seed=1)
    assert torch.equal(torch.autograd.grad(ours, x, g)[0], torch.autograd.grad(ref, x, g)[0])
    assert torch.autograd.gradgradcheck(pool, (x,))


def test_torch_pooling_gradient_keeps_layout_and_dtype_under_autocast():
    from ganvas.nn.resample import downsampler

    pool = downsampler(16, "torch")
    x = _x(2, 16, 8, 8, dtype=torch.float32).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        (grad,) = torch.autograd.grad(pool(x).float().square().sum(), x, create_graph=True)
    assert grad.dtype == torch.bfloat16 and grad.is_contiguous(memory_format=torch.channels_last)
    (ref,) = torch.autograd.grad(F.avg_pool2d(x, 2).float().square().sum(), x)
    assert torch.equal(grad, ref)
