"""Slow tests (`make test-slow`): the demo's real configuration end to end, and the GPU suite's smoke run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_cli

pytestmark = pytest.mark.slow


def test_demo_config_resumes_bit_identically_after_sigkill(tmp_path):
    """The demo preset (conditional, bf16 where available, channels_last) at 32 px on the emoji set."""
    args = ["train", "--preset", "demo", "--kimg", "6", "--checkpoint-kimg", "2", "--no-progress",
            "--set", "train.tensorboard=false"]
    run_cli(*args, "--out", str(tmp_path / "whole"), check=True)
    killed = run_cli(*args, "--out", str(tmp_path / "cut"), env={"GANVAS_FAULT_KILL_AT_NIMG": "3500"})
    assert killed.returncode == -9
    resumed = run_cli(*args, "--out", str(tmp_path / "cut"), check=True)
    assert "resuming" in resumed.stderr
    whole = tmp_path / "whole" / "generator.safetensors"
    assert (tmp_path / "cut" / "generator.safetensors").read_bytes() == whole.read_bytes()
    record = json.loads((tmp_path / "whole" / "generator.json").read_text())
    assert record["c_dim"] == 8 and "Smileys & Emotion" in record["label_names"]


def test_gpu_suite_smoke_runs_its_benchmarks_on_the_cpu(tmp_path):
    """`benchmarks/gpu_suite.sh --smoke` on a few steps: the suite, a training-throughput run, a profile,
    the kernel bound and the resampling comparison run, merge into one JSON, and report sane figures."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "suite.json"
    steps = "train-sg64-b32,profile-sg256-b64-bf16,resample-sg256p,bound-sg256p-b64-bf16"
    proc = subprocess.run(["bash", str(root / "benchmarks" / "gpu_suite.sh"), "--smoke", "--only", steps,
                           "--results", str(out)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    ran = {s["name"]: s for s in report["steps"] if s["status"] == "ok"}
    assert set(ran) == set(steps.split(","))
    assert all(s["status"].startswith("skipped") for s in report["steps"] if s["name"] not in ran)
    train = ran["train-sg64-b32"]["result"]
    assert [r["precision"] for r in train["results"]] == ["fp32", "bf16"]
    assert all(r["img_per_sec"] > 0 and r["sec_per_kimg"] > 0 for r in train["results"])
    assert train["flops"]["flops_per_img"] > 0
    profile = ran["profile-sg256-b64-bf16"]["result"]
    assert profile["wall_ms_per_iter"] > 0 and abs(sum(profile["families_share"].values()) - 1) < 1e-3
    bound = ran["bound-sg256p-b64-bf16"]["result"]
    # the recorded kernel calls carry the model's FLOPs (R1 and plain iterations weighted as a run has them)
    assert abs(bound["recorded_vs_counted"] - 1) < 0.01
    assert [k["r1_steps"] for k in bound["iteration_kinds"]] == [1, 0]
    assert abs(sum(k["share"] for k in bound["iteration_kinds"]) - 1) < 1e-6
    assert bound["kernels_alone_ms_per_iter"] > 0 and bound["kernel_bound_gflops"] > 0 and bound["calls"]
    resample = ran["resample-sg256p"]["result"]
    worst = {}
    for row in resample["rows"]:
        worst[row["variant"]] = max(worst.get(row["variant"], 0.0), row["max_abs_diff"])
    # ganvas's convolution forms are the same function as torch's ops (bf16 feature maps: a rounding step)
    assert worst["convT"] < 0.05 and worst["conv-stride2"] < 0.05
