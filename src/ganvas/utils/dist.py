"""Multi-process training through PyTorch distributed, as launched by `torchrun`.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE (and the rendezvous); a plain `ganvas train` has none
of them and runs as a world of one, with no process group at all. GPUs use NCCL, CPUs use gloo.

Gradients are summed with one all-reduce per network and step (as StyleGAN3's loop does), rather than
by DistributedDataParallel hooks: gradient accumulation, the non-finite step check and the
augmentation controller's statistics then all ride on the same single collective.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ganvas.errors import PeerLost, first_sentence


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this process created the process group (and destroys it at the end)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_world(device_type: str) -> World:
    """Join the torchrun job if there is one (WORLD_SIZE > 1); otherwise a world of one."""
    size = env_world_size()
    if size <= 1:
        return World()
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        # A rank that dies makes the others fail at their next collective instead of waiting forever.
        timeout = datetime.timedelta(minutes=10)
        store = _attempt_store(size, timeout)
        if store is None:
            dist.init_process_group(backend, timeout=timeout)
        else:
            dist.init_process_group(backend, store=store, rank=int(os.environ["RANK"]), world_size=size,
                                    timeout=timeout)
        owns = True
    return World(rank=dist.get_rank(), size=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0)),
                 owns_group=owns)


def _attempt_store(size: int, timeout: datetime.timedelta):
    """The store of torchrun's agent, with keys of this attempt only; None when torchrun hosts no store.

    torchrun keeps one store across the attempts of a job (`--max-restarts`), and the processes of a restarted
    attempt then read the addresses the previous attempt's processes left there: they connect to processes
    that are gone and fail, or wait (in most restarts, measured on torch 2.13 with gloo). A prefix per
    attempt (TORCHELASTIC_RESTART_COUNT) gives each attempt keys of its own.
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or "MASTER_ADDR" not in os.environ:
        return None
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), size, is_master=False,
                          timeout=timeout)
    return dist.PrefixStore(f"ganvas/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


@contextlib.contextmanager
def _with_peers(world: World, what: str):
    """A collective that fails (a peer's connection closed, or the process-group timeout passed) raises
    `PeerLost`, one line that says which process saw it, instead of a backend's traceback."""
    try:
        yield
    except torch.cuda.OutOfMemoryError:
        raise  # this process's own trouble (training says which --batch-gpu fits)
    except RuntimeError as e:  # torch.distributed.DistError and the backends' errors derive from it
        reason = first_sentence(e, 1000).split("] ", 1)[-1][:200]  # without the backend's source location
        raise PeerLost(f"process {world.rank} of {world.size}: {what} failed, so another process of this run has "
                       f"stopped or cannot be reached ({reason}); that process's own output says why") from e


def all_reduce_sum(t: torch.Tensor, world: World) -> torch.Tensor:
    """Sum t across ranks in place (a no-op in a world of one)."""
    if world.size > 1:
        with _with_peers(world, "summing across processes"):
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_gather_object(obj, world: World) -> list:
    """Every rank's Python object, in rank order, on every rank."""
    if world.size <= 1:
        return [obj]
    out = [None] * world.size
    with _with_peers(world, "gathering from every process"):
        dist.all_gather_object(out, obj)
    return out


def broadcast_tensor(t: torch.Tensor, world: World) -> torch.Tensor:
    """Rank 0's values of t on every rank, in place."""
    if world.size > 1:
        with _with_peers(world, "receiving from the first process"):
            dist.broadcast(t, src=0)
    return t


def barrier(world: World) -> None:
    if world.size > 1:
        with _with_peers(world, "waiting for every process"):
            dist.barrier()


def close_world(world: World) -> None:
    if world.owns_group and dist.is_initialized():
        dist.destroy_process_group()
