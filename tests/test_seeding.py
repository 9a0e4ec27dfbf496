import pytest
import torch

from ganvas.data.sampler import ImageBatches
from ganvas.data.dataset import ImageDataset
from ganvas.data.toy import grid25, ring8
from ganvas.errors import ConfigError
from ganvas.utils.seeding import derive_seed, latents_from_seeds, parse_seeds

import numpy as np


def test_derive_seed_is_stable_across_versions():
    # Pinned: changing the derivation silently changes every run's noise and data order.
    assert derive_seed(0, "z/D", 0) == derive_seed(0, "z/D", 0)
    assert derive_seed(0, "z/D", 0) != derive_seed(0, "z/G", 0)
    assert derive_seed(1, "order", 3) == 2800811354476930423


def test_latents_depend_only_on_their_seed():
    a = latents_from_seeds([5, 9, 11], 16)
    b = torch.cat([latents_from_seeds([11], 16), latents_from_seeds([9, 5], 16)])
    assert torch.equal(a[0], b[2]) and torch.equal(a[1], b[1]) and torch.equal(a[2], b[0])


@pytest.mark.parametrize("text,expected", [("0-3", [0, 1, 2, 3]), ("7, 2,7", [7, 2]), ("1-2,2-3", [1, 2, 3])])
def test_parse_seeds(text, expected):
    assert parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "1-", "-5"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ConfigError):
        parse_seeds(text)


def _dataset(n=10):
    imgs = np.arange(n, dtype=np.uint8)[:, None, None, None].repeat(3, 1).repeat(4, 2).repeat(4, 3)
    return ImageDataset(imgs, None, [], "t", "f")


def test_batches_cover_each_epoch_once_and_resume_anywhere():
    b = ImageBatches(_dataset(10), seed=1)
    first = b.indices(0, 10)
    assert sorted(first.tolist()) == list(range(10))
    stream = b.indices(0, 35)
    # Any window of the stream equals the same window drawn fresh (e.g. by a resumed run).
    fresh = ImageBatches(_dataset(10), seed=1)
    assert torch.equal(fresh.indices(13, 9), stream[13:22])
    assert not torch.equal(ImageBatches(_dataset(10), seed=2).indices(0, 10), first)
    # Stream position p is image perm_{p // N}[p % N], across epoch boundaries and windows longer than an epoch.
    for start, n in ((3, 35), (20, 10), (9, 1), (0, 0)):
        want = [b._perm(p // 10)[p % 10].item() for p in range(start, start + n)]
        assert b.indices(start, n).tolist() == want
    img, labels = b.batch(0, 4)
    assert img.dtype == torch.float32 and img.min() >= -1 and img.max() <= 1 and labels is None


def test_toy_sets_follow_the_protocol():
    r = ring8()
    assert r.means.shape == (8, 2) and torch.allclose(r.means.norm(dim=1), torch.ones(8))
    # Eight distinct modes (linspace(0, 2pi, 8) would repeat the first).
    assert torch.cdist(r.means, r.means).add(torch.eye(8)).min() > 0.7
    g = grid25()
    assert g.means.shape == (25, 2) and set(g.means[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    x = r.sample(4000, torch.Generator().manual_seed(0))
    d = torch.cdist(x, r.means).min(dim=1).values
    assert d.std() < 0.02 and (d < 0.05).all()
