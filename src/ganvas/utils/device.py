"""Device and precision choices, made explicitly at run time (never at import)."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

from ganvas.config import PRECISIONS
from ganvas.errors import ConfigError


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX), where bf16 pays."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """auto -> bf16 where the hardware runs it natively, else fp32."""
    if precision not in PRECISIONS:
        raise ConfigError(f"train.precision={precision!r}: choose {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_fast_bf16() else "fp32"


def slow_precision_note(precision: str, device: torch.device) -> str | None:
    """A one-line warning when `precision` (already resolved) is emulated on this device, else None.

    Figures: ganvas's 32 px demo network trained on a 2-core CPU without bf16 instructions at 0.37x to 0.39x
    the img/s of fp32 in bf16 and 0.03x in fp16 (`benchmarks/train_throughput.py --precision fp32,bf16,fp16`),
    and generated at 0.44x in bf16 (`benchmarks/sample_throughput.py --precision fp32,bf16`).
    """
    if device.type != "cpu":
        return None
    if precision == "bf16" and not cpu_has_fast_bf16():
        return ("this CPU has no bf16 instructions (AVX512-BF16 or AMX), so bf16 is emulated and slower than fp32 "
                "(the demo network: 2.7x slower training, 2.3x slower generation); --precision auto picks fp32 here")
    if precision == "fp16":
        return ("fp16 is meant for GPUs: most CPUs emulate it, far slower than fp32 (the demo network trains 30x "
                "slower); --precision auto picks the faster one")
    return None


def autocast(device: torch.device, precision: str):
    """Mixed precision for forward passes: weights, optimizer state and losses stay float32."""
    if precision in ("bf16", "fp16"):
        return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)
    return contextlib.nullcontext()


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """auto = this process's GPU when there is one (torchrun's LOCAL_RANK picks it), else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("train.device=cuda, but this PyTorch sees no CUDA GPU; use --set train.device=cpu")
        dev = torch.device(device if ":" in device else f"cuda:{local_rank}")
        torch.cuda.set_device(dev)
        return dev
    raise ConfigError(f"train.device={device!r}: choose auto, cpu or cuda")
