"""Multi-process training with torchrun (gloo on CPU): same global batch, same run, on any number of processes."""

import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from helpers import REPO, TINY_TRAIN, make_art_folder, run_cli

# Per-sample normalisation only (batch norm's statistics depend on how a batch is split), and fp32 (bf16
# rounding, 0.4%, would hide a real difference).
BASE = [*TINY_TRAIN, "--kimg", "0.384", "--checkpoint-kimg", "0.128", "--set", "model.g_norm=pixel",
        "--set", "model.d_norm=layer", "--set", "train.precision=fp32"]


def torchrun(nproc: int, *args: str, env: dict | None = None, extra: list[str] | None = None
             ) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           *(extra or []), "-m", "ganvas", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    return make_art_folder(tmp_path_factory.mktemp("art") / "art", n=32)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, art):
    out = tmp_path_factory.mktemp("ddp") / "run"
    proc = torchrun(2, "train", "--data", str(art), "--out", str(out), *BASE, "--batch-gpu", "8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 processes" in proc.stderr
    assert proc.stdout.count("generator: ") == 1  # only the first process says where the outputs are
    return out


def _weights(run):
    return load_file(str(run / "generator.safetensors"))


def test_two_processes_equal_one_process_with_the_same_micro_batches(two_process_run, art, tmp_path):
    """One process accumulating two micro-batches of 8 == two processes of 8 each (gradients summed)."""
    run_cli("train", "--data", str(art), "--out", str(tmp_path / "one"), *BASE, "--batch-gpu", "8",
            check=True)
    a, b = _weights(two_process_run), _weights(tmp_path / "one")
    for k in a:
        assert (a[k] - b[k]).abs().max() <= 1e-5, k


def test_two_processes_equal_one_process_with_the_whole_batch(art, tmp_path):
    """After a step on one global batch of 16, the weights and Adam's moments (which scale with the gradient,
    unlike Adam's steps) match a single process that saw the whole batch, to float rounding."""
    one_step = ["--kimg", "0.016", "--checkpoint-kimg", "0.016"]
    proc = torchrun(2, "train", "--data", str(art), "--out", str(tmp_path / "two"), *BASE, *one_step)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_cli("train", "--data", str(art), "--out", str(tmp_path / "one"), *BASE, *one_step, check=True)
    two, one = (torch.load(tmp_path / d / "checkpoints" / "ckpt-0000000016.pt", weights_only=True)
                for d in ("two", "one"))
    for opt in ("opt_G", "opt_D"):  # the moments hold the gradient: 0.1 g and 0.001 g^2 after one step
        for i, st in one[opt]["state"].items():
            for m in ("exp_avg", "exp_avg_sq"):
                torch.testing.assert_close(two[opt]["state"][i][m], st[m], rtol=1e-3, atol=1e-7)
    # Adam's first step is lr * g / |g|: an entry whose gradient is rounding noise may move either way by
    # lr (2e-4), so the weights can only be compared that loosely; the moments above are the real check.
    for net in ("G", "D"):
        for k, v in one[net].items():
            assert (two[net][k] - v).abs().max() <= 2 * 2e-4 + 1e-6, k


def test_only_the_main_process_writes(two_process_run):
    ckpts = sorted(p.name for p in (two_process_run / "checkpoints").iterdir())
    assert ckpts == ["ckpt-0000000128.pt", "ckpt-0000000256.pt", "ckpt-0000000384.pt"]
    lines = (two_process_run / "stats.jsonl").read_text().splitlines()
    kimgs = [line.split('"kimg": ')[1].split(",")[0] for line in lines]
    assert len(kimgs) == len(set(kimgs))  # one writer: no line twice


def test_two_nodes_through_rendezvous_equal_two_processes_on_one(two_process_run, art, tmp_path):
    """Multi-node as the README shows it: two torchrun agents (one process each, as two machines would run)
    meet at a c10d rendezvous endpoint and write to a shared folder. Both nodes have LOCAL_RANK 0; only global
    rank 0 writes, and the run is the one-node two-process run, bit for bit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "nodes"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1", "--rdzv-backend=c10d",
           f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=ganvas-test", "-m", "ganvas", "train", "--data", str(art),
           "--out", str(out), *BASE, "--batch-gpu", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
             for _ in range(2)]
    results = [node.communicate(timeout=300) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [err[-2000:] for _, err in results]
    assert sum("2 processes" in err for _, err in results) == 1  # one node (global rank 0) reports
    assert (out / "generator.safetensors").read_bytes() == (two_process_run / "generator.safetensors").read_bytes()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == sorted(
        p.name for p in (two_process_run / "checkpoints").iterdir())


def test_killed_two_process_run_resumes_to_the_same_weights(two_process_run, art, tmp_path):
    out = tmp_path / "cut"
    args = ["train", "--data", str(art), "--out", str(out), *BASE, "--batch-gpu", "8"]
    killed = torchrun(2, *args, env={"GANVAS_FAULT_KILL_AT_NIMG": "300"})
    assert killed.returncode != 0 and not (out / "generator.safetensors").exists()
    resumed = torchrun(2, *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stderr
    assert (out / "generator.safetensors").read_bytes() == (two_process_run / "generator.safetensors").read_bytes()


def test_torchrun_restart_resumes_from_the_last_checkpoint(two_process_run, art, tmp_path):
    """A process killed mid-run (SIGKILL at 300 images, after the 256-image checkpoint): torchrun
    --max-restarts relaunches the job, which resumes from that checkpoint and ends where an uninterrupted run
    ends, bit for bit."""
    out = tmp_path / "restarted"
    proc = torchrun(2, "train", "--data", str(art), "--out", str(out), *BASE, "--batch-gpu", "8",
                    env={"GANVAS_FAULT_KILL_AT_NIMG": "300"}, extra=["--max-restarts=1"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming" in proc.stderr
    assert (out / "generator.safetensors").read_bytes() == (two_process_run / "generator.safetensors").read_bytes()


def test_a_batch_that_does_not_split_is_refused(art, tmp_path):
    proc = torchrun(2, "train", "--data", str(art), "--out", str(tmp_path / "x"), *BASE, "--batch", "15")
    assert proc.returncode != 0 and "must divide evenly over the 2 processes" in proc.stderr
    assert "use a multiple of 2, e.g. --batch 14 or 16" in proc.stderr
    one = run_cli("train", "--data", str(art), "--out", str(tmp_path / "y"), *BASE, "--batch-gpu", "5")
    assert one.returncode == 2 and "--batch-gpu 5 must divide" in one.stderr
    assert "use one of 1, 2, 4, 8, 16" in one.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("gpus", ["2", "1"])
def test_gpus_flag_needs_the_gpus(art, tmp_path, gpus):
    proc = run_cli("train", "--data", str(art), "--out", str(tmp_path / "g"), "--gpus", gpus, *BASE)
    assert proc.returncode == 2 and f"--gpus {gpus}, but this machine has 0 CUDA GPUs" in proc.stderr
    assert "torchrun --standalone" in proc.stderr and not (tmp_path / "g").exists()


def test_gpus_flag_must_be_positive(art, tmp_path):
    proc = run_cli("train", "--data", str(art), "--out", str(tmp_path / "g"), "--gpus", "0", *BASE)
    assert proc.returncode == 2 and "'--gpus': must be at least 1, got 0" in proc.stderr


def test_metrics_during_two_process_training_match_one_process(art, tmp_path):
    """Each process scores a share of the seeds; the gathered scores equal a single process's."""
    extra = ["--kimg", "0.064", "--metrics", "kid", "--metrics-every", "0.064", "--set", "train.metrics_num=24",
             "--set", "train.metrics_extractor=random-conv"]
    proc = torchrun(2, "train", "--data", str(art), "--out", str(tmp_path / "two"), *BASE, *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_cli("train", "--data", str(art), "--out", str(tmp_path / "one"), *BASE, *extra, check=True)
    two = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    one = (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()
    assert len(two) == len(one) == 1
    import json

    a, b = json.loads(two[0]), json.loads(one[0])
    assert a["kid"] == pytest.approx(b["kid"], rel=1e-3, abs=1e-6)


_PEER = """
import os, sys, torch
from ganvas.errors import PeerLost
from ganvas.utils.dist import all_reduce_sum, barrier, init_world
world = init_world("cpu")
barrier(world)
if world.rank == 1:
    os._exit(0)  # gone without a word, as a killed process is
try:
    all_reduce_sum(torch.ones(1), world)
except PeerLost as e:
    print(e)
    sys.exit(3)
"""


def test_a_lost_process_is_one_line_naming_who_saw_it(tmp_path):
    """The process left behind gets `PeerLost` from the collective (one line), not the backend's traceback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
           "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _PEER], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO) for r in (0, 1)]
    (out, err), _ = [p.communicate(timeout=120) for p in procs]
    assert procs[0].returncode == 3, err[-2000:]
    assert out.startswith("process 0 of 2: summing across processes failed, so another process of this run has "
                          "stopped or cannot be reached (") and out.count("\n") == 1


def test_a_lost_process_message_says_how_to_resume(tmp_path):
    from ganvas.train.loop import _resume_hint

    assert _resume_hint(tmp_path) == "it starts again (no checkpoint yet)"
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "ckpt-0000000256.pt").write_bytes(b"")
    assert _resume_hint(tmp_path).endswith("it resumes from the last checkpoint, " +
                                           str(tmp_path / "checkpoints" / "ckpt-0000000256.pt"))


def test_out_of_memory_in_a_collective_is_not_a_lost_process():
    from ganvas.errors import PeerLost
    from ganvas.utils.dist import World, _with_peers

    with pytest.raises(torch.cuda.OutOfMemoryError):
        with _with_peers(World(rank=1, size=2), "summing across processes"):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
    with pytest.raises(PeerLost, match=r"^process 1 of 2: summing across processes failed, .* \(Connection closed\)"):
        with _with_peers(World(rank=1, size=2), "summing across processes"):
            raise RuntimeError("[pair.cc:553] Connection closed. Check the remote worker.\nmore")


@pytest.mark.parametrize("gpus_args", [["--gpus", "2"], ["--gpus=2"]])
def test_gpus_flag_relaunches_the_same_command_under_torchrun(monkeypatch, gpus_args):
    """On a machine with the GPUs, --gpus N reruns the command line as torchrun's N processes, without --gpus."""
    import ganvas.cli.train as cli_train

    launched = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(sys, "argv", ["ganvas", "train", "--data", "art", *gpus_args, "--kimg", "1"])
    monkeypatch.setattr(subprocess, "call", lambda cmd: launched.append(cmd) or 0)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(SystemExit) as e:
        cli_train._launch_torchrun(2)
    assert e.value.code == 0 and launched == [[sys.executable, "-m", "torch.distributed.run", "--standalone",
                                               "--nproc_per_node=2", "-m", "ganvas", "train", "--data", "art",
                                               "--kimg", "1"]]
    cli_train._launch_torchrun(1)  # one GPU: this process trains
    monkeypatch.setenv("WORLD_SIZE", "2")
    cli_train._launch_torchrun(2)  # already one of torchrun's processes
    assert len(launched) == 1
