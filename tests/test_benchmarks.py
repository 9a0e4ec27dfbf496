"""The benchmark suite's command line: what it would run, and a wrong step name caught before anything runs."""

import os
import subprocess
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_suite.sh"


def _suite(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SUITE), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHON": python})


def test_the_suite_lists_the_same_steps_in_every_mode():
    full, smoke = _suite("--list"), _suite("--smoke", "--list")
    assert full.returncode == 0 and smoke.returncode == 0, full.stderr + smoke.stderr
    names = full.stdout.split()
    assert sorted(names) == sorted(smoke.stdout.split()) and len(names) == len(set(names))
    assert names[:3] == ["pytest-gpu", "torchrun-1proc", "train-dcgan64-b64-cudagraphs"]
    assert "train-sg256p-b64" in names and "train-sg512-b16-compile" in names


def test_an_unknown_step_stops_the_suite_before_it_runs_anything(tmp_path):
    out = tmp_path / "suite.json"
    proc = _suite("--smoke", "--only", "pytest-gpu,train-sg265p-b64", "--results", str(out))
    assert proc.returncode == 2 and "--only names no step of this suite: train-sg265p-b64" in proc.stderr
    assert "train-sg256p-b64" in proc.stderr and "==" not in proc.stdout and not out.exists()


def test_a_python_without_torch_is_named(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    proc = _suite("--list", python=str(fake))
    assert proc.returncode == 2 and "cannot import torch: set PYTHON" in proc.stderr


def test_benchmark_scripts_refuse_bad_settings_in_one_line():
    root = SUITE.parents[1]
    for script, args, fragment in [("train_throughput.py", ["--model", "nope"], "unknown model 'nope'"),
                                   ("profile_step.py", ["--set", "loss.name=nope"], "unknown loss 'nope'"),
                                   ("sample_throughput.py", ["--batch", "0"], "must be at least 1, got 0")]:
        proc = subprocess.run([sys.executable, str(root / "benchmarks" / script), *args], capture_output=True,
                              text=True, timeout=120, cwd=root)
        assert proc.returncode == 2 and fragment in proc.stderr, (script, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
