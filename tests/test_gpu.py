"""CUDA-only checks (run by `benchmarks/gpu_suite.sh`, skipped elsewhere): the training step queues its
work without waiting for the GPU."""

import pytest
import torch

from ganvas.config import build_config
from ganvas.data.sources import load_data
from ganvas.train.ema import EmaUpdater
from ganvas.train.stats import StepLog
from ganvas.train.steps import build_setup, d_step, g_step, remember_buffers
from ganvas.utils.dist import World

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.mark.parametrize("model,aug,precision", [("dcgan", "diffaugment", "fp32"), ("stylegan", "none", "bf16"),
                                                 ("stylegan", "diffaugment", "fp16")])
def test_training_steps_do_not_wait_for_the_gpu(model, aug, precision):
    """D and G steps (R1 included) with every host read made an error: no .item(), no blocking copy."""
    cfg = build_config(overrides={"data.source": "emoji", "data.resolution": 32, "model.name": model,
                                  "aug.name": aug, "train.precision": precision, "train.batch": 16,
                                  "train.device": "cuda", "loss.r1_gamma": 1.0, "loss.r1_interval": 2})
    s = build_setup(cfg, load_data(cfg.data, progress=False), World())
    remember_buffers(s.G)
    remember_buffers(s.D)
    ema, log = EmaUpdater(s.G_ema, s.G), StepLog()

    def iteration(nimg):
        s.D.requires_grad_(True)
        d_step(s, cfg, log, nimg)
        s.D.requires_grad_(False)
        g_step(s, cfg, log, nimg)
        ema(0.99)

    # Warm-up: allocations, cuDNN's algorithm search, the optimizers' state, and with fp16 the loss scaler
    # backing off from its initial scale (it skips the steps whose scaled gradients overflow) until two
    # iterations in a row, an R1 step among them, are applied.
    k, applied_in_a_row = 0, 0
    while applied_in_a_row < 2:
        assert k < 24, "the fp16 loss scaler never settled: steps keep overflowing"
        iteration(16 * k)
        k += 1
        rows = log.drain()
        applied_in_a_row = applied_in_a_row + 1 if all(ok for _, _, ok, _ in rows) else 0
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(4):  # two R1 steps among them
            iteration(16 * k)
            k += 1
    finally:
        torch.cuda.set_sync_debug_mode(0)
    rows = log.drain()
    assert len(rows) == 8 and all(applied for _, _, applied, _ in rows)


def test_r1_through_ada_runs_on_cuda():
    """R1 differentiates D(T(x)) twice through ADA's warp, which torch's CUDA grid_sample cannot do."""
    cfg = build_config(overrides={"data.source": "emoji", "data.resolution": 32, "model.name": "stylegan",
                                  "aug.name": "ada", "train.precision": "bf16", "train.batch": 16,
                                  "train.device": "cuda", "loss.r1_gamma": 1.0, "loss.r1_interval": 1})
    s = build_setup(cfg, load_data(cfg.data, progress=False), World())
    s.ada.p = 0.8
    log = StepLog()
    for k in range(2):
        s.D.requires_grad_(True)
        d_step(s, cfg, log, 16 * k)
    rows = log.drain()
    assert len(rows) == 2 and all(ok for _, _, ok, _ in rows)
    assert all(v["Loss/D/r1"] > 0 for _, _, _, v in rows)


def test_cuda_graphs_training_runs(tmp_path):
    """--set train.compile=true train.compile_mode=reduce-overhead: compiled G and D replayed as CUDA graphs
    through a short run, each step marked as new, the losses finite."""
    from ganvas.train import train
    from ganvas.train.stats import read_stats

    cfg = build_config(overrides={"data.source": "emoji", "data.resolution": 16, "model.name": "dcgan",
                                  "model.width": 8, "train.batch": 16, "train.kimg": 0.128, "train.log_kimg": 0.032,
                                  "train.device": "cuda", "train.compile": True,
                                  "train.compile_mode": "reduce-overhead", "train.tensorboard": False})
    train(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    rows = [r for r in read_stats(tmp_path / "run" / "stats.jsonl") if "Loss/D/adv" in r]
    assert rows and all(torch.isfinite(torch.tensor([r["Loss/D/adv"], r["Loss/G/adv"]])).all() for r in rows)


def test_resampling_by_convolution_matches_on_cuda():
    """model.resample=conv on the GPU: the same D and G losses as torch's resampling ops, from the same start."""
    losses = {}
    for kind in ("torch", "conv"):
        torch.manual_seed(0)
        cfg = build_config(overrides={"data.source": "emoji", "data.resolution": 32, "model.name": "stylegan",
                                      "model.resample": kind, "aug.name": "none", "train.precision": "fp32",
                                      "train.batch": 16, "train.device": "cuda", "loss.r1_gamma": 1.0,
                                      "loss.r1_interval": 1})
        s = build_setup(cfg, load_data(cfg.data, progress=False), World())
        log = StepLog()
        s.D.requires_grad_(True)
        d_step(s, cfg, log, 0)
        s.D.requires_grad_(False)
        g_step(s, cfg, log, 0)
        losses[kind] = [v for _, _, _, row in log.drain() for v in row.values()]
    assert len(losses["torch"]) == len(losses["conv"]) > 2
    for a, b in zip(losses["torch"], losses["conv"]):
        assert abs(a - b) <= 1e-3 * max(1.0, abs(a)), losses  # TF32 convolutions on both sides
