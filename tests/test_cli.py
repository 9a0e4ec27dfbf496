"""The command line as a user meets it: help, dry runs, and clear errors without tracebacks."""

import json

import pytest

from helpers import run_cli


def test_models_lists_models_and_losses():
    out = run_cli("models", check=True).stdout
    for name in ("dcgan", "mlp", "nonsat", "minimax", "wgan-gp", "hinge", "lsgan"):
        assert name in out


def test_dry_run_prints_the_resolved_config():
    proc = run_cli("train", "--data", "ring8", "--loss", "wgan-gp", "--kimg", "0.5", "--set", "optim.G.lr=3e-4",
                   "--dry-run", check=True)
    cfg = json.loads(proc.stdout)
    assert cfg["loss"]["name"] == "wgan-gp" and cfg["train"]["n_critic"] == 5
    assert cfg["optim"]["G"]["lr"] == 3e-4 and cfg["train"]["kimg"] == 0.5


@pytest.mark.parametrize("args,fragment", [
    (["train", "--data", "/no/such/folder", "--out", "RUN"], "/no/such/folder"),
    (["train", "--data", "emoji", "--out", "RUN", "--set", "train.bach=3"], "did you mean train.batch"),
    (["train", "--data", "emoji", "--out", "RUN", "--set", "train.batch"], "key=value"),
    (["train", "--data", "emoji", "--out", "RUN", "--batch", "abc"], "'abc' is not a valid integer"),
    (["train", "--data", "emoji", "--out", "RUN", "--kimg", "-1"], "must be positive"),
    (["train", "--data", "emoji", "--out", "RUN", "--fit", "zoom"], "'zoom' is not one of"),
    (["train", "--data", "emoji", "--out", "RUN", "--loss", "nope"], "unknown loss 'nope'; choose one of"),
    (["train", "--data", "emoji", "--out", "RUN", "--model", "mlp"], "try --model dcgan"),
    (["train", "--data", "emoji"], "--out RUN_DIR is required"),
    (["train", "--bogus"], "--bogus"),
    (["generate", "/no/such/run", "--out", "x"], "does not exist"),
    (["generate", "RUN", "--seeds", "5-1", "--out", "x"], "runs backwards"),
    (["interpolate", "RUN", "--seeds", "1", "--out", "x.gif"], "does not exist"),
])
def test_errors_are_one_clear_line(tmp_path, args, fragment):
    args = [a.replace("RUN", str(tmp_path / "run")) for a in args]
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr


def test_generate_before_training_finished_says_how_to_resume(tmp_path):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "ckpt-0000000512.pt").write_bytes(b"x")
    proc = run_cli("generate", str(tmp_path / "run"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "rerun the same `ganvas train` command" in proc.stderr
