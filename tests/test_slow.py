"""Slow tests (`make test-slow`): the demo's real configuration, end to end."""

import json

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
