import math

import pytest
import torch

from ganvas.losses import LOSSES, gradient_penalty


@pytest.mark.parametrize("name", LOSSES.names())
def test_sign_convention(name):
    """D's loss falls as real logits rise and fake logits fall; G's loss falls as fake logits rise."""
    loss = LOSSES.get(name)
    lo, hi = torch.tensor([-0.5]), torch.tensor([0.5])
    assert loss.d_loss(hi, lo) < loss.d_loss(lo, lo)  # higher real score: better for D
    assert loss.d_loss(hi, lo) < loss.d_loss(hi, hi)  # lower fake score: better for D
    assert loss.g_loss(hi) < loss.g_loss(lo)  # higher fake score: better for G
    out = loss.d_loss(torch.randn(5), torch.randn(5))
    assert out.shape == (5,), "losses are per-sample"


@pytest.mark.parametrize("name", LOSSES.names())
def test_finite_for_extreme_logits(name):
    loss = LOSSES.get(name)
    big = torch.tensor([-80.0, 80.0])
    assert torch.isfinite(loss.d_loss(big, big)).all() and torch.isfinite(loss.g_loss(big)).all()


def test_bce_values_match_the_formulas():
    r, g = torch.tensor([0.3]), torch.tensor([-1.2])
    sig = torch.sigmoid
    expected_d = -torch.log(sig(r)) - torch.log(1 - sig(g))
    assert torch.allclose(LOSSES.get("nonsat").d_loss(r, g), expected_d)
    assert torch.allclose(LOSSES.get("minimax").g_loss(g), torch.log(1 - sig(g)))
    assert torch.allclose(LOSSES.get("nonsat").g_loss(g), -torch.log(sig(g)))
    assert math.isclose(LOSSES.get("hinge").d_loss(torch.tensor([2.0]), torch.tensor([-2.0])).item(), 0.0)
    assert math.isclose(LOSSES.get("lsgan").d_loss(torch.tensor([1.0]), torch.tensor([-1.0])).item(), 0.0)


class _Linear(torch.nn.Module):
    def __init__(self, scale):
        super().__init__()
        w = torch.zeros(2)
        w[0] = scale
        self.w = torch.nn.Parameter(w)

    def forward(self, x, c=None):
        return x @ self.w


@pytest.mark.parametrize("scale,expected", [(1.0, 0.0), (2.0, 1.0), (0.0, 1.0)])
def test_gradient_penalty_on_a_linear_critic(scale, expected):
    """A linear critic x -> w.x has gradient w everywhere, so the penalty is (|w| - 1)^2."""
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    gp = gradient_penalty(_Linear(scale), real, fake, None, torch.Generator().manual_seed(0))
    assert gp.shape == (8,)
    assert torch.allclose(gp, torch.full((8,), expected), atol=1e-6)


def test_penalty_is_deterministic_given_its_generator():
    D = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    net = lambda x, c=None: D(x).flatten()  # noqa: E731
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    a = gradient_penalty(net, real, fake, None, torch.Generator().manual_seed(3))
    b = gradient_penalty(net, real, fake, None, torch.Generator().manual_seed(3))
    c = gradient_penalty(net, real, fake, None, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("scale", [0.0, 1.0, 3.0])
def test_r1_on_a_linear_critic_is_the_squared_weight_norm(scale):
    from ganvas.losses import r1_penalty

    D = _Linear(scale)
    real = torch.randn(6, 2, requires_grad=True)
    r1 = r1_penalty(D(real), real)
    assert r1.shape == (6,) and torch.allclose(r1, torch.full((6,), scale**2))
    r1.sum().backward()  # create_graph: the penalty itself trains D
    assert D.w.grad is not None and torch.allclose(D.w.grad[0], torch.tensor(12.0 * scale))
