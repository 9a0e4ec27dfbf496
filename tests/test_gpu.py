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

    for k in range(3):  # warm-up: allocations, cuDNN's algorithm search, the optimizers' state
        iteration(16 * k)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for k in range(3, 7):  # two R1 steps among them
            iteration(16 * k)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    rows = log.drain()
    assert len(rows) == 14 and all(applied for _, _, applied, _ in rows)
