import pytest
import torch

from ganvas.config import ModelConfig
from ganvas.models import MODELS, DataInfo
from ganvas.models.base import synthesize
from ganvas.nn import conv_transpose_subpixel

TINY = ModelConfig(z_dim=8, width=8, max_width=32, hidden=16, depth=2, d_norm="batch")


def _info(name, num_classes=0):
    kind = MODELS.get(name).kind
    return DataInfo(kind, resolution=16 if kind == "image" else 0, num_classes=num_classes)


def _inputs(G, n=4, num_classes=0):
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(0))
    c = torch.nn.functional.one_hot(torch.arange(n) % num_classes, num_classes).float() if num_classes else None
    return z, c


@pytest.mark.parametrize("name", MODELS.names())
def test_shapes_and_range(name):
    G, D = MODELS.get(name).build(TINY, _info(name))
    z, _ = _inputs(G)
    x = G(z)
    assert x.shape == (4, *G.out_shape)
    if MODELS.get(name).kind == "image":
        assert x.shape == (4, 3, 16, 16)
        G.eval()  # the contract: images in [-1, 1] (style-based G is unbounded while training, like StyleGAN2)
        with torch.no_grad():
            assert G(z).abs().max() <= 1
    assert D(x).shape == (4,)


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("num_classes", [0, 3])
def test_gradients_reach_every_parameter(name, num_classes):
    G, D = MODELS.get(name).build(TINY, _info(name, num_classes))
    z, c = _inputs(G, num_classes=num_classes)
    if hasattr(G, "noise_gen"):  # noise inputs are used (and trained) when the loop hands G a generator
        G.noise_gen = torch.Generator().manual_seed(0)
    x = G(z, c)
    loss = D(x, c).sum()
    if getattr(D, "reconstructs", False):  # FastGAN's D also trains its decoder on real images
        loss = loss + D.reconstruction_loss(x.detach()).sum()
    loss.backward()
    for net in (G, D):
        for pname, p in net.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: no gradient reaches {pname}"


@pytest.mark.parametrize("name", MODELS.names())
def test_conditional_outputs_differ_across_classes(name):
    G, _ = MODELS.get(name).build(TINY, _info(name, 3))
    G.eval()
    z = torch.randn(1, G.z_dim).repeat(3, 1)
    c = torch.eye(3)
    with torch.no_grad():
        out = G(z, c)
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[2])


@pytest.mark.parametrize("name", MODELS.names())
def test_eval_outputs_do_not_depend_on_batch(name):
    G, _ = MODELS.get(name).build(TINY, _info(name))
    G.eval()
    z, _ = _inputs(G, n=6)
    full = synthesize(G, z, batch_size=6)
    chunked = synthesize(G, z, batch_size=4)
    assert torch.allclose(full, chunked, atol=1e-6)


@pytest.mark.parametrize("name", MODELS.names())
def test_bad_inputs_raise_clear_errors(name):
    G, D = MODELS.get(name).build(TINY, _info(name))
    with pytest.raises(ValueError, match="z must be"):
        G(torch.randn(2, G.z_dim + 1))
    with pytest.raises(ValueError, match="expects inputs"):
        D(torch.randn(2, 5, 5))


@pytest.mark.parametrize("res", [8, 32, 64])
def test_dcgan_resolutions(res):
    G, D = MODELS.get("dcgan").build(TINY, DataInfo("image", resolution=res))
    x = G(torch.randn(2, 8))
    assert x.shape == (2, 3, res, res) and D(x).shape == (2,)


def test_classic_dcgan64_shapes():
    """width 64 at 64 px is the textbook network: 512-256-128-64 channels in G, mirrored in D."""
    G, D = MODELS.get("dcgan").build(ModelConfig(z_dim=100, width=64), DataInfo("image", resolution=64))
    convs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.out_channels for m in convs] == [512, 256, 128, 64, 3]
    dconvs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in dconvs] == [64, 128, 256, 512, 1]


@pytest.mark.parametrize("g_norm", ["batch", "none"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_dcgan_first_layer_as_a_matrix_product_is_the_transposed_convolution(g_norm, channels_last):
    """G's first layer runs as one matrix product: the same images (and gradients) as its 4x4 transposed
    convolution of the 1x1 latent, conditional or not, with or without a bias, in either memory layout."""
    cfg = ModelConfig(z_dim=8, width=8, max_width=32, g_norm=g_norm)
    G, _ = MODELS.get("dcgan").build(cfg, DataInfo("image", resolution=16, num_classes=3))
    if channels_last:
        G = G.to(memory_format=torch.channels_last)
    z, c = _inputs(G, num_classes=3)
    x = torch.cat([z, c], dim=1)[:, :, None, None]
    out = G(z, c)
    ref = G.net(x)
    assert torch.allclose(out, ref, atol=1e-6)
    grads = torch.autograd.grad(out.square().sum(), list(G.parameters()))
    refs = torch.autograd.grad(ref.square().sum(), list(G.parameters()))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads, refs))
    # Neither the weight nor the product is copied to change its layout (the reshape of a channels_last
    # weight used to copy it in every pass), and the product comes out in the model's layout.
    w = G.net[0].weight
    copies, first_out = _copies_in(lambda: G(z, c)), []
    G.net[1].register_forward_hook(lambda m, i, o: first_out.append(i[0]))
    G(z, c)
    assert [s for s in copies if s in (tuple(w.shape), (len(z), w.shape[1], 4, 4))] == []
    assert first_out[0].is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def _copies_in(fn):
    """The shapes of the tensors that `fn` copies (clone, copy_, layout-changing to/contiguous)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    ops = (torch.ops.aten.clone.default, torch.ops.aten.copy_.default, torch.ops.aten._to_copy.default)
    seen = []

    class Spy(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in ops:
                seen.append(tuple(args[0].shape))
            return func(*args, **(kwargs or {}))

    with Spy():
        fn()
    return seen


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("in_ch, out_ch, size, bias", [(16, 3, 8, True), (8, 1, 5, False), (6, 4, 1, True)])
def test_subpixel_form_is_the_transposed_convolution(channels_last, in_ch, out_ch, size, bias):
    """A 4x4 stride-2 transposed convolution as a 2x2 convolution + pixel shuffle + crop: the same outputs and
    gradients (input, weight, bias) as torch's, at even, odd and 1-pixel sizes, in either memory layout."""
    torch.manual_seed(0)
    layer = torch.nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=bias)
    x = torch.randn(3, in_ch, size, size)
    if channels_last:
        layer, x = layer.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    ref, out = layer(x), conv_transpose_subpixel(x, layer)
    assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-5)
    params = [x, layer.weight] + ([layer.bias] if bias else [])
    g = torch.randn_like(ref)
    for a, b in zip(torch.autograd.grad(out, params, g), torch.autograd.grad(ref, params, g)):
        assert torch.allclose(a, b, atol=1e-4)


def test_subpixel_form_refuses_other_transposed_convolutions():
    with pytest.raises(ValueError, match="4x4, stride-2"):
        conv_transpose_subpixel(torch.randn(1, 4, 5, 5), torch.nn.ConvTranspose2d(4, 3, 3, 2, 1))


@pytest.mark.parametrize("name", ["dcgan", "fastgan"])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("d_norm", ["batch", "spectral"])
def test_d_head_as_a_matrix_product_is_the_convolution(name, channels_last, d_norm):
    """D's last 4x4 convolution runs as a matrix product: the same logits and gradients as the convolution,
    with the class projection, in either layout, with spectral norm too."""
    cfg = ModelConfig(z_dim=8, width=8, max_width=32, d_norm=d_norm)
    _, D = MODELS.get(name).build(cfg, DataInfo("image", resolution=32, num_classes=3))
    D.eval()  # fixed batch-norm statistics and spectral-norm vectors: two passes see the same weights
    h = torch.randn(4, D.out.in_channels, 4, 4)
    if channels_last:
        D, h = D.to(memory_format=torch.channels_last), h.contiguous(memory_format=torch.channels_last)
    c = torch.eye(3)[[0, 1, 2, 0]]
    h.requires_grad_(True)
    out = D.head_4x4(h, c)
    ref = D.out(h).flatten() + (D.embed(c) * h.sum(dim=(2, 3))).sum(dim=1)
    assert torch.allclose(out, ref, atol=1e-5)
    params = [h] + [p for p in D.out.parameters()]
    for a, b in zip(torch.autograd.grad(out.sum(), params), torch.autograd.grad(ref.sum(), params)):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("d_norm", ["batch", "layer", "spectral", "none"])
def test_dcgan_discriminator_norms(d_norm):
    cfg = ModelConfig(z_dim=8, width=8, max_width=32, d_norm=d_norm)
    _, D = MODELS.get("dcgan").build(cfg, DataInfo("image", resolution=16, num_classes=2))
    x = torch.randn(4, 3, 16, 16)
    c = torch.eye(2)[[0, 1, 0, 1]]
    D(x, c).sum().backward()
    assert all(p.grad is not None for p in D.parameters())
    if d_norm == "spectral":
        # Every weight is divided by its largest singular value (estimated by power iteration).
        w = D.out.weight.detach().flatten(1)
        assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, rel=0.05)
    if d_norm in ("layer", "spectral", "none"):  # per-sample: a sample's score ignores its batch-mates
        D.train(d_norm != "spectral")  # spectral norm's power iteration moves u on every training forward
        assert torch.allclose(D(x[:2], c[:2]), D(x, c)[:2], atol=1e-5)


def test_fastgan_reconstruction_and_excitation():
    from ganvas.models.fastgan import _sle_pairs

    assert _sle_pairs(256) == {64: 4, 128: 8, 256: 16} and _sle_pairs(32) == {32: 4}
    G, D = MODELS.get("fastgan").build(TINY, _info("fastgan"))
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    per_sample = D.reconstruction_loss(x)
    assert per_sample.shape == (4,) and (per_sample > 0).all()
    # The decoder can learn to reconstruct: a few steps on one batch lower the loss.
    opt = torch.optim.Adam(D.parameters(), lr=1e-2)
    before = D.reconstruction_loss(x).mean().item()
    for _ in range(20):
        opt.zero_grad()
        D.reconstruction_loss(x).mean().backward()
        opt.step()
    assert D.reconstruction_loss(x).mean().item() < 0.7 * before


def _nchw_feature_maps(fn):
    """(op, shape) of every NCHW tensor that `fn` makes, forward and backward, of more than 12 channels (not an
    RGB-sized tensor) and more than 4x4 pixels."""
    from torch.utils._python_dispatch import TorchDispatchMode

    seen = []

    class Spy(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else [out]:
                if isinstance(t, torch.Tensor) and t.ndim == 4 and t.shape[1] > 12 and t.shape[2] * t.shape[3] > 16 \
                        and t.is_contiguous() and not t.is_contiguous(memory_format=torch.channels_last):
                    seen.append((func.overloadpacket.__name__, tuple(t.shape)))
            return out

    with Spy():
        fn()
    return seen


@pytest.mark.parametrize("name", [n for n in MODELS.names() if MODELS.get(n).kind == "image"])
def test_a_channels_last_model_trains_channels_last_all_the_way(name):
    """With the model in channels_last (train.channels_last, the default), G's and D's training passes,
    forward and backward, make no NCHW feature map, so no op mixes layouts or reorders on the way. Two slips
    this catches: the style-based G once added a full-size NCHW noise+bias tensor to each layer's output,
    which made every later op NCHW (and a GPU ran torch's slow NCHW upsampling); torch's GLU backward returns
    NCHW gradients (FastGAN uses its own GLU); the second derivative of torch's average pooling (R1 through
    the style-based D) starts from NCHW zeros (ganvas pools with its own backward). Exempt: maps of 4x4 or
    less (the style-based G's constant input, the minibatch-stddev concatenation), RGB-sized tensors (12
    channels or fewer), and R1 through batch norm (its second derivative is torch's; R1 is off by default
    for the batch-norm models)."""
    cfg = ModelConfig(z_dim=8, width=16, max_width=64, w_dim=16, map_layers=2)  # channels above RGB sizes
    G, D = MODELS.get(name).build(cfg, DataInfo("image", resolution=32))
    G, D = G.to(memory_format=torch.channels_last).train(), D.to(memory_format=torch.channels_last).train()
    if hasattr(G, "noise_gen"):
        G.noise_gen = torch.Generator().manual_seed(0)
    z, _ = _inputs(G)

    real = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last).requires_grad_(True)

    def step():
        img = G(z)
        loss = D(img).sum()
        if getattr(D, "reconstructs", False):
            loss = loss + D.reconstruction_loss(img).sum()
        if not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules()):
            (grad,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)  # R1's double backward
            loss = loss + grad.square().sum()
        loss.backward()

    assert _nchw_feature_maps(step) == []
    G, D = G.to(memory_format=torch.contiguous_format), D.to(memory_format=torch.contiguous_format)
    assert len(_nchw_feature_maps(step)) > 10  # (it sees them)


def test_glu_is_torchs_glu_with_a_channels_last_gradient():
    """ganvas.nn.glu: F.glu's values and gradients (first and second order, float64), an odd channel count
    refused, and the gradient of a channels_last input comes back channels_last."""
    from ganvas.nn import glu

    x = torch.randn(2, 6, 3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    torch.testing.assert_close(glu(x), torch.nn.functional.glu(x, dim=1))
    assert torch.autograd.gradcheck(glu, (x,)) and torch.autograd.gradgradcheck(glu, (x,))
    g = torch.randn(2, 3, 3, 5, dtype=torch.float64)
    (mine,) = torch.autograd.grad(glu(x), x, g)
    (theirs,) = torch.autograd.grad(torch.nn.functional.glu(x, dim=1), x, g)
    torch.testing.assert_close(mine, theirs)
    cl = torch.randn(2, 32, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    (grad,) = torch.autograd.grad(glu(cl).square().sum(), cl)
    assert grad.is_contiguous(memory_format=torch.channels_last)
    # With a graph of the gradient (R1) the backward takes its differentiable path: the same values and layout.
    (graphed,) = torch.autograd.grad(glu(cl).square().sum(), cl, create_graph=True)
    assert graphed.requires_grad and graphed.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(graphed, grad)
    with pytest.raises(ValueError, match="even number of channels"):
        glu(torch.randn(1, 3, 2, 2))
