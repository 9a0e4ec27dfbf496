import json
import math

import numpy as np
import pytest
import torch

from ganvas.data.toy import grid25, ring8
from ganvas.errors import ConfigError
from ganvas.metrics.modes import mode_stats


@pytest.mark.parametrize("make,expected_kl", [(ring8, 0.0015), (grid25, 0.005)])
def test_a_perfect_sampler_scores_as_published(make, expected_kl):
    """REFERENCES: a perfect sampler gets ~98.9% high-quality and rev-KL ~0.0015 (ring) / ~0.005 (grid)."""
    dist = make()
    kls, hqs = [], []
    for seed in range(20):
        s = mode_stats(dist.sample(2500, torch.Generator().manual_seed(seed)).numpy(), dist.means.numpy(), dist.std)
        assert s["modes"] == dist.num_modes
        kls.append(s["reverse_kl"])
        hqs.append(s["high_quality"])
    assert np.mean(hqs) == pytest.approx(0.989, abs=0.004)
    assert np.mean(kls) == pytest.approx(expected_kl, rel=0.35)


def test_collapse_is_measured():
    dist = ring8()
    means = dist.means.numpy()
    on_one = np.repeat(means[:1], 100, axis=0)  # every sample on mode 0
    s = mode_stats(on_one, means, dist.std)
    assert s["modes"] == 1 and s["high_quality"] == 1.0
    assert s["reverse_kl"] == pytest.approx(math.log(8))
    two = np.concatenate([np.repeat(means[:1], 50, 0), np.repeat(means[1:2], 50, 0)])
    assert mode_stats(two, means, dist.std)["reverse_kl"] == pytest.approx(math.log(4))


def test_far_samples_are_not_high_quality():
    dist = ring8()
    s = mode_stats(np.zeros((10, 2)), dist.means.numpy(), dist.std)  # the centre is far from every mode
    assert s["high_quality"] == 0.0 and s["modes"] == 0 and math.isinf(s["reverse_kl"])
    with pytest.raises(ValueError):
        mode_stats(np.zeros((0, 2)), dist.means.numpy(), dist.std)


def test_bench_modes_cli_reports_beside_published_rows():
    import json as _json

    from helpers import run_cli

    proc = run_cli("bench", "modes", "--data", "ring8", "--runs", "2", "--kimg", "2", "--json", check=True)
    result = _json.loads(proc.stdout)
    assert result["runs"] == 2 and len(result["per_run"]) == 2 and result["samples"] == 2500
    assert {"mean", "se"} <= set(result["modes"]) and 0 <= result["high_quality"]["mean"] <= 1
    table = run_cli("bench", "modes", "--data", "grid25", "--runs", "1", "--kimg", "1", check=True).stdout
    assert "PacGAN Table 1, GAN" in table and "VEEGAN" in table and "24.8" in table


def test_bench_modes_jobs_run_the_same_runs_in_parallel():
    """--jobs only changes where runs execute: with one thread per run, per-run results are identical."""
    from ganvas.apps.bench_modes import run_modes_bench

    kw = dict(runs=2, overrides={"train.kimg": 2.0, "train.batch": 64, "train.threads": 1}, log=lambda m: None)
    serial = run_modes_bench("ring8", jobs=1, **kw)
    parallel = run_modes_bench("ring8", jobs=2, **kw)
    assert parallel["jobs"] == 2 and serial["jobs"] == 1 and parallel["threads_per_run"] == 1
    # the result says what it measured: the recipe's settings with the overrides, as JSON values
    assert serial["settings"]["train.kimg"] == 2.0 and serial["settings"]["train.batch"] == 64
    assert serial["settings"]["train.reuse_fakes"] is True
    assert serial["settings"]["optim.G.betas"] == [0.0, 0.99] and json.loads(json.dumps(serial)) == serial
    scores = [[{k: v for k, v in row.items() if k != "seconds"} for row in result["per_run"]]
              for result in (serial, parallel)]
    assert scores[0] == scores[1]  # in seed order, whichever run finished first
    assert scores[0][0] != scores[0][1]  # and the runs differ: seeds 0 and 1
    with pytest.raises(ConfigError, match="--jobs"):
        run_modes_bench("ring8", jobs=0, **kw)


def test_recipes_leave_a_loss_its_own_settings():
    from ganvas.apps.bench_modes import RECIPES, recipe_for_loss

    assert recipe_for_loss("default", "nonsat") == RECIPES["default"]
    wgan = recipe_for_loss("long", "wgan-gp")  # its own lr, betas and critic steps, and its gradient penalty
    assert not {"optim.G.lr", "optim.D.lr", "optim.G.betas", "loss.r1_gamma", "loss.r1_interval"} & set(wgan)
    assert wgan["train.batch"] == 256 and wgan["train.kimg"] == 6000.0


def test_mlp_works_on_unit_scale_points():
    """G's output is its unit-scale output times the scale, and D scores x as an unscaled D scores x / scale;
    auto picks the data's extent (grid25 4, ring8 1), and the exported generator keeps it."""
    from ganvas.config import build_config
    from ganvas.data.sources import load_data
    from ganvas.models.mlp import MLPDiscriminator, MLPGenerator
    from ganvas.train.steps import build_setup
    from ganvas.utils.dist import World

    torch.manual_seed(0)
    G1, G4 = MLPGenerator(z_dim=4, hidden=8), MLPGenerator(z_dim=4, hidden=8, scale=4.0)
    D1, D4 = MLPDiscriminator(hidden=8), MLPDiscriminator(hidden=8, scale=4.0)
    G4.load_state_dict(G1.state_dict())
    D4.load_state_dict(D1.state_dict())
    z, x = torch.randn(5, 4), torch.randn(5, 2)
    assert torch.allclose(G4(z), 4 * G1(z)) and torch.allclose(D4(x), D1(x / 4))
    scales = {}
    for data, extra in (("grid25", {}), ("ring8", {}), ("grid25", {"model.point_scale": 2.0})):
        cfg = build_config(overrides={"data.source": data, "model.hidden": 8, **extra})
        s = build_setup(cfg, load_data(cfg.data, progress=False), World())
        scales[(data, bool(extra))] = (s.G.scale, s.D.scale, s.G.init_kwargs["scale"])
    assert scales == {("grid25", False): (4.0, 4.0, 4.0), ("ring8", False): (1.0, 1.0, 1.0),
                      ("grid25", True): (2.0, 2.0, 2.0)}
    with pytest.raises(ConfigError, match="point_scale"):
        build_config(overrides={"model.point_scale": -1.0})
