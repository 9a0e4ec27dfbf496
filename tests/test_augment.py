import pytest
import torch

from ganvas.augment import AUGMENTS, AdaptiveAugment, DiffAugment
from ganvas.augment.diffaugment import cutout, translation
from ganvas.errors import ConfigError


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("aug", [DiffAugment(), AdaptiveAugment(p=0.5)], ids=["diffaugment", "ada"])
def test_differentiable_and_deterministic_given_its_generator(aug):
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    a, b, c = aug(x, _gen(1)), aug(x, _gen(1)), aug(x, _gen(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    a.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_pixels_and_fills_with_zero():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3, 4] = 1.0
    out = translation(x, _gen(), ratio=0.25)
    assert out.shape == x.shape
    ones = out.flatten(1).sum(dim=1)
    assert ((ones == 0) | (ones == 1)).all()  # a pixel is moved (or off the edge), never blended
    pos = [tuple((o[0] == 1).nonzero()[0].tolist()) for o in out if o.sum() == 1]
    assert len(set(pos)) > 5  # shifts vary across the batch
    assert all(abs(r - 3) <= 2 and abs(c - 4) <= 2 for r, c in pos)  # by at most 0.25 * 8 pixels


def test_cutout_removes_a_quarter_of_the_area_on_average():
    x = torch.ones(1024, 1, 16, 16)
    out = cutout(x, _gen(), ratio=0.5)
    # An 8-pixel span starting at c - 4, c uniform in 0..16, covers 116/17 of 16 rows on average
    # (fewer where it crosses the border); rows and columns are independent.
    expected_kept = 1 - (116 / 17 / 16) ** 2
    assert out.mean().item() == pytest.approx(expected_kept, abs=0.01)
    assert (out.flatten(1).sum(1) >= 256 - 64).all()  # never more than 8x8 pixels removed
    assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_channels_last_is_kept():
    x = torch.randn(2, 3, 8, 8).contiguous(memory_format=torch.channels_last)
    assert DiffAugment()(x, _gen()).is_contiguous(memory_format=torch.channels_last)


def test_registry_and_bad_policy():
    assert AUGMENTS.get("none")("color") is None
    assert isinstance(AUGMENTS.get("diffaugment")("color"), DiffAugment)
    with pytest.raises(ConfigError, match="unknown DiffAugment op"):
        DiffAugment("color,zoom")
