"""The training loop: one readable function, setup in named helpers.

An iteration is `n_critic` D steps (each shows D `batch` real images, so nimg grows by batch) followed
by one G step and an EMA update. Everything random derives from (seed, purpose, nimg), and the full
state is checkpointed atomically, so rerunning the same command resumes and ends bit-identical to an
uninterrupted run (on the same machine and thread count).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ganvas import __version__, checkpoint
from ganvas.config import RunConfig, flatten, set_flag
from ganvas.data.dataset import ImageDataset
from ganvas.data.sources import load_data
from ganvas.errors import GanvasError, PeerLost, TrainingDiverged, first_sentence
from ganvas.train.ema import EmaUpdater, ema_beta
from ganvas.train.snapshots import save_fake_grid, save_real_grid
from ganvas.train.stats import Stats, StepLog, plot_losses, plot_series, read_stats
from ganvas.train.steps import (Setup, build_setup, check_names, d_step, divisors, freeze_layers, g_step,
                                lr_factor, remember_buffers, set_lr, training_metrics)
from ganvas.utils.device import resolve_device, slow_precision_note
from ganvas.utils.dist import barrier, close_world, init_world
from ganvas.utils.files import atomic_write_text

# Iterations between reads of the steps' figures from the device (StepLog): one wait for the GPU per this
# many, and a run that diverges stops at most this many iterations after its limit of skipped steps.
DRAIN_STEPS = 16

# Fields that may change between the first run and a resume without changing what is computed,
# apart from the duration, which may be extended.
RESUMABLE_CHANGES = {"train.kimg", "train.epochs", "train.threads", "train.tensorboard", "train.checkpoint_kimg",
                     "train.snapshot_kimg", "train.log_kimg", "train.keep_checkpoints", "train.grid_size",
                     "train.max_bad_steps", "train.batch_gpu", "train.device", "train.compile",
                     "train.resume_from", "train.minutes", "train.compile_mode"}


@dataclass
class TrainResult:
    run_dir: Path
    nimg: int
    generator: Path
    grid: Path | None
    loss_plot: Path | None
    resumed_from: int
    is_main: bool = True  # False in the other processes of a torchrun job, which write nothing


def train(cfg: RunConfig, run_dir: str | Path, progress: bool = True,
          log: Callable[[str], None] = print) -> TrainResult:
    """Train a GAN as configured; resume if `run_dir` holds checkpoints of the same config.

    >>> from ganvas.config import build_config
    >>> cfg = build_config(overrides={"data.source": "ring8", "train.kimg": 1})   # doctest: +SKIP
    >>> train(cfg, "runs/ring8").generator                                           # doctest: +SKIP
    PosixPath('runs/ring8/generator.safetensors')
    """
    # Section: setup.
    run_dir = Path(run_dir)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    world = init_world(resolve_device(cfg.train.device).type)
    main = world.is_main
    if not main:
        progress, log = False, lambda m: None  # only the main process talks and writes
    setup = None
    try:
        check_names(cfg)
        data = load_data(cfg.data, progress=progress)
        for note in (data.skipped_note() if isinstance(data, ImageDataset) else None, _small_set_tip(cfg, data)):
            if note:
                log(note)
        setup = build_setup(cfg, data, world)
        total_nimg = _total_nimg(cfg, data)
        if main:
            _prepare_run_dir(run_dir, cfg, log)
        barrier(world)  # the run folder is checked before anyone reads checkpoints from it
        return _run(cfg, run_dir, data, setup, total_nimg, progress, log)
    except PeerLost as e:
        raise PeerLost(f"{e}. Rerun the same command and {_resume_hint(run_dir)} (torchrun's --max-restarts=N "
                       "does so by itself)") from e
    except RuntimeError as e:  # torch.OutOfMemoryError is one; a CPU allocation that fails is a plain one
        if setup is not None and _out_of_memory(e):
            raise GanvasError(_out_of_memory_message(cfg, setup, run_dir)) from e
        if cfg.train.compile and _compile_failed(e):
            raise GanvasError(f"torch.compile failed ({first_sentence(e, 300)}). Rerun the same command without "
                              f"--compile (or with --set train.compile=false) and {_resume_hint(run_dir)}, "
                              "training the same networks eagerly") from e
        raise
    finally:
        close_world(world)


def _resume_hint(run_dir: Path) -> str:
    found = checkpoint.list_checkpoints(run_dir)
    return f"it resumes from the last checkpoint, {found[-1]}" if found else "it starts again (no checkpoint yet)"


def _compile_failed(e: RuntimeError) -> bool:
    from torch._dynamo.exc import TorchDynamoException

    return isinstance(e, TorchDynamoException)


def _out_of_memory(e: RuntimeError) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or "can't allocate memory" in str(e)


def _out_of_memory_message(cfg: RunConfig, setup: Setup, run_dir: Path) -> str:
    """Out of memory in training: the flag that fixes it (a smaller pass, the same training), and where it resumes."""
    per_pass, shard = setup.batch_gpu, cfg.train.batch // setup.world.size
    where = f"{setup.device.type} memory ran out with {per_pass} image{'s' if per_pass > 1 else ''} per pass"
    if per_pass == 1:
        return (f"{where}, the least there can be: train a smaller network (e.g. --set model.max_width=256) or "
                f"at a lower --resolution in a new run folder")
    smaller = max(d for d in divisors(shard) if d < per_pass)
    return (f"{where} (--batch-gpu): rerun the same command with --batch-gpu {smaller}, and {_resume_hint(run_dir)}. "
            f"Each step then sums the gradients of {shard // smaller} passes of {smaller}, so it still trains on "
            f"--batch {cfg.train.batch} images")


def _run(cfg: RunConfig, run_dir: Path, data, setup: Setup, total_nimg: int, progress: bool,
         log: Callable[[str], None]) -> TrainResult:
    G, D, G_ema, opt_G, opt_D, world = setup.G, setup.D, setup.G_ema, setup.opt_G, setup.opt_D, setup.world
    main = world.is_main
    nimg, bad_steps = 0, {"G": 0, "D": 0}  # consecutive non-finite steps per network
    state = checkpoint.load_latest_state(run_dir, log, set_aside=main)  # refuses a run it cannot resume
    if main:
        atomic_write_text(run_dir / "config.json", cfg.to_json() + "\n")
    if state is not None:
        nimg, bad_steps = _restore(state, setup)
        log(f"resuming {run_dir} from {nimg / 1000:g} kimg ({Path(state['path']).name})")
    elif cfg.train.resume_from:
        log(_start_from(cfg.train.resume_from, setup, cfg.train.freeze_d))
    frozen = freeze_layers(D, cfg.train.freeze_d)
    D_trainable = [p for p in D.parameters() if p.requires_grad]  # what the D step trains (Freeze-D keeps the rest)
    if frozen:
        log(f"Freeze-D: D's first {cfg.train.freeze_d} layers ({frozen} weights) stay fixed")
    resumed_from = nimg
    remember_buffers(G)
    remember_buffers(D)
    update_ema = EmaUpdater(G_ema, G)
    stats = Stats(run_dir, tensorboard=cfg.train.tensorboard, enabled=main)
    stats.truncate_after(nimg)
    grids = run_dir / "grids"
    where = (f"{world.size} processes, {setup.device.type}" if world.size > 1 else str(setup.device))
    accum = cfg.train.batch // world.size // setup.batch_gpu
    log(f"training {setup.model_name} on {data.name} ({_describe(data, setup.c_dim)}) for {total_nimg / 1000:g} kimg, "
        f"{setup.precision}{', channels_last' if setup.channels_last else ''}, {where}, "
        f"{torch.get_num_threads()} threads" + (f", {accum} accumulation steps" if accum > 1 else ""))
    note = slow_precision_note(setup.precision, setup.device)
    if note:
        log(f"warning: {note}")
    if cfg.train.compile and setup.device.type == "cpu":
        log("note: torch.compile is for GPUs; on a 2-core CPU the compiled style-based step ran at 0.65x of eager "
            "(17.5 against 27-28 img/s). The first steps also wait for the compiler")
    if main and nimg == 0 and isinstance(data, ImageDataset):
        save_real_grid(data.images[: cfg.train.grid_size], grids / "reals.png")
    batch, n_critic = cfg.train.batch, cfg.train.n_critic
    grid_n = 1000 if setup.info.kind == "points" else cfg.train.grid_size

    kill_at, fault_signal = _fault_kill_at()
    evaluator = None
    if cfg.train.metrics:  # every process renders and extracts its share of the images
        from ganvas.metrics.evaluate import TrainingEvaluator

        evaluator = TrainingEvaluator(cfg.data, training_metrics(cfg),
                                      cfg.train.metrics_num, cfg.train.metrics_extractor, world)

    def crossed(interval_kimg: float, before: int, after: int) -> bool:
        step = max(1, round(interval_kimg * 1000))
        return after // step > before // step or after >= total_nimg

    # Section: the loop.
    step_log, last_loss = StepLog(), {"D": math.nan, "G": math.nan}
    intervals = [cfg.train.log_kimg, cfg.train.snapshot_kimg, cfg.train.checkpoint_kimg,
                 *([cfg.train.metrics_kimg or cfg.train.snapshot_kimg] if evaluator is not None else [])]
    bar = _progress_bar(total_nimg, nimg, progress)
    t_tick, nimg_tick = time.perf_counter(), nimg
    deadline = time.perf_counter() + 60 * cfg.train.minutes if cfg.train.minutes else None
    interrupt = _Interrupt(world.size == 1, log)

    def stop_here() -> None:
        """A checkpoint and a grid at this step, where a rerun of the same command picks up exactly."""
        _check_in_sync(setup)
        if main:
            _save_checkpoint(run_dir, setup, nimg, bad_steps, cfg)
            if not _grid_path(grids, nimg).exists():  # the samples the run stops with
                save_fake_grid(G_ema, grid_n, _grid_path(grids, nimg), nimg, setup.c_dim)

    warned_p = False
    try:
        while nimg < total_nimg:
            nimg_start = nimg
            lr_scale = lr_factor(nimg, total_nimg, cfg.optim.lr_rampdown)
            set_lr(opt_G, cfg.optim.G.lr * lr_scale)
            set_lr(opt_D, cfg.optim.D.lr * lr_scale)
            # D steps: real batch, fake batch, D loss (+ penalties), D update.
            _set_requires_grad(D_trainable, True)
            for i in range(n_critic):
                d_step(setup, cfg, step_log, nimg, keep_fakes=cfg.train.reuse_fakes and i == n_critic - 1)
                nimg += batch
            # G step: fresh noise, G loss through D, G update, EMA.
            _set_requires_grad(D_trainable, False)
            g_step(setup, cfg, step_log, nimg_start)
            update_ema(ema_beta(nimg - nimg_start, nimg, cfg.train.ema_kimg, cfg.train.ema_rampup))

            # Housekeeping at kimg boundaries: progress, stats, grids, checkpoints (main process only).
            # The steps' figures are read from the device every DRAIN_STEPS iterations, and before any of this.
            if len(step_log) >= DRAIN_STEPS * (n_critic + 1) or nimg >= total_nimg or interrupt.requested \
                    or any(crossed(k, nimg_start, nimg) for k in intervals):
                for i_nimg, net, ok, values in step_log.drain():
                    for name, value in values.items():
                        stats.add(name, value)
                    _count_bad(ok, bad_steps, stats, i_nimg, net, cfg)
                    last_loss[net] = values[f"Loss/{net}/adv"]
                if setup.ada is not None and setup.ada.p >= ADA_LEAK_P and not warned_p:
                    warned_p = True
                    log(f"augmentation p is {setup.ada.p:.2f}: from about {ADA_LEAK_P:g} up, ADA's rotations and flips "
                        f"can leak into G (in ganvas's own tests G drew every scene turned by 90 degrees at a fixed "
                        f"p of 0.8); look at the sample grids, and check with `ganvas leak {run_dir} --ref DATA`")
                if bar is not None:
                    ada = f"  p {setup.ada.p:.3f}" if setup.ada is not None else ""
                    bar.set_postfix_str(f"D {last_loss['D']:.3f}  G {last_loss['G']:.3f}{ada}", refresh=False)
            if bar is not None:
                bar.update(nimg - nimg_start)
            if crossed(cfg.train.log_kimg, nimg_start, nimg):
                dt = time.perf_counter() - t_tick
                rate = (nimg - nimg_tick) / max(dt, 1e-9)
                stats.flush(nimg, {"Timing/img_per_sec": rate, "Timing/sec_per_kimg": 1000 / max(rate, 1e-9),
                                   "Progress/kimg": nimg / 1000})
                t_tick, nimg_tick = time.perf_counter(), nimg
            if main and crossed(cfg.train.snapshot_kimg, nimg_start, nimg):
                save_fake_grid(G_ema, grid_n, _grid_path(grids, nimg), nimg, setup.c_dim)
            if evaluator is not None and crossed(cfg.train.metrics_kimg or cfg.train.snapshot_kimg, nimg_start, nimg):
                _evaluate(evaluator, run_dir, setup, nimg, stats, cfg, data)
            if crossed(cfg.train.checkpoint_kimg, nimg_start, nimg):
                _check_in_sync(setup)
                if main:
                    _save_checkpoint(run_dir, setup, nimg, bad_steps, cfg)
            if deadline is not None and crossed(cfg.train.log_kimg, nimg_start, nimg) and nimg < total_nimg \
                    and _time_is_up(deadline, setup):
                stop_here()
                log(f"stopping after {cfg.train.minutes:g} minutes at {nimg / 1000:g} of {total_nimg / 1000:g} kimg; "
                    f"rerun the same command to continue")
                break
            if interrupt.requested and nimg < total_nimg:
                stop_here()
                log(f"interrupted at {nimg / 1000:g} of {total_nimg / 1000:g} kimg, with a checkpoint at this step")
                raise KeyboardInterrupt
            if kill_at is not None and nimg >= kill_at:  # fault injection for the resume tests
                os.kill(os.getpid(), fault_signal)
                kill_at = None  # (a signal the process survives, such as SIGINT, is sent once)
    finally:
        interrupt.close()
        if bar is not None:
            bar.close()
        stats.close()

    # Section: finish: export the EMA generator, the last grid and the loss plot.
    result = TrainResult(run_dir, nimg, run_dir / "generator.safetensors", None, None, resumed_from, main)
    if main:
        if not checkpoint.list_checkpoints(run_dir):  # e.g. a finished run rerun with no step to do
            _save_checkpoint(run_dir, setup, nimg, bad_steps, cfg)
        _check_finite(G_ema, "G_ema")
        checkpoint.export_generator(run_dir, G_ema, setup.model_name, _facts(cfg, data, setup, nimg))
        last_grid = sorted(grids.glob("fakes-*.png"))
        if not last_grid:
            last_grid = [save_fake_grid(G_ema, grid_n, _grid_path(grids, nimg), nimg, setup.c_dim)]
        result.grid = last_grid[-1]
        result.loss_plot = plot_losses(run_dir / "stats.jsonl", run_dir / "loss.png")
    barrier(setup.world)  # nobody leaves before the generator is written
    return result


# Section: setup helpers.

# ADA's p from which its augmentations leaked in ganvas's measurements (benchmarks/quality_bar.sh leak-scenes:
# upright samples at fixed p 0.35 and 0.5, every sample turned by 90 degrees at 0.8); training warns once there.
ADA_LEAK_P = 0.8
SMALL_SET = 1000  # images: below this a GAN without augmentation overfits within a few passes (ADA, sec. 2)


def _small_set_tip(cfg: RunConfig, data) -> str | None:
    """A line for users who point the default model (a DCGAN), without augmentation, at a small folder."""
    if isinstance(data, ImageDataset) and cfg.model.name == "auto" and cfg.aug.name == "none" \
            and len(data) < SMALL_SET:
        return (f"tip: {len(data)} images is a small set for a DCGAN without augmentation: D soon memorises it "
                f"and G collapses. --preset auto picks a model and augmentation for this size (and says why).")
    return None


def _grid_path(grids: Path, nimg: int) -> Path:
    return grids / f"fakes-{nimg / 1000:09.3f}kimg.png"  # e.g. fakes-00250.016kimg.png: sorts by time


def _describe(data, c_dim: int) -> str:
    if isinstance(data, ImageDataset):
        classes = f", conditional on {c_dim} classes" if c_dim else ""
        return f"{len(data)} image{'s' if len(data) != 1 else ''} at {data.resolution} px{classes}"
    return f"{data.num_modes} modes, 2-D"


def _fault_kill_at() -> tuple[int | None, signal.Signals]:
    """GANVAS_FAULT_KILL_AT_NIMG=N makes the process send itself SIGKILL (or GANVAS_FAULT_SIGNAL, e.g. INT)
    once nimg >= N (tests only); under torchrun only in its first attempt, so that a restart can finish."""
    value = os.environ.get("GANVAS_FAULT_KILL_AT_NIMG")
    if os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") != "0":
        value = None
    return (int(value) if value else None), signal.Signals[f"SIG{os.environ.get('GANVAS_FAULT_SIGNAL', 'KILL')}"]


def _total_nimg(cfg: RunConfig, data) -> int:
    if cfg.train.epochs:
        return max(1, round(cfg.train.epochs * len(data)))
    return max(1, round(cfg.train.kimg * 1000))


def _prepare_run_dir(run_dir: Path, cfg: RunConfig, log: Callable[[str], None]) -> None:
    """Create the run folder, or check that an existing one was made by the same command."""
    if run_dir.exists() and not run_dir.is_dir():
        raise GanvasError(f"--out {run_dir} is a file; give a folder for the run")
    cfg_path = run_dir / "config.json"
    # A folder whose run never reached its first checkpoint holds nothing to protect: a corrected command
    # may start over in it.
    if cfg_path.exists() and checkpoint.list_checkpoints(run_dir):
        try:
            old = RunConfig.from_dict(json.loads(cfg_path.read_text()))
        except (ValueError, GanvasError):
            old = None
        if old is not None:
            a, b = flatten(old.to_dict()), flatten(cfg.to_dict())
            diff = sorted(k for k in a if a[k] != b.get(k) and k not in RESUMABLE_CHANGES)
            if diff:
                changes = ", ".join(f"{k}: {a[k]!r} -> {b[k]!r}" for k in diff[:5])
                more = f" and {len(diff) - 5} more" if len(diff) > 5 else ""
                # The same command can differ too, when a preset or default changed since the run began.
                restore = " ".join(set_flag(k, a[k]) for k in diff)
                raise GanvasError(f"{run_dir} holds a run with a different config ({changes}{more}). To start "
                                  f"another run, choose a new --out folder; to resume this one, add the flags "
                                  f"that restore its settings: {restore}")
    elif run_dir.exists() and any(run_dir.iterdir()) and not cfg_path.exists() \
            and not checkpoint.list_checkpoints(run_dir):
        raise GanvasError(f"--out {run_dir} exists and is not a ganvas run folder; choose an empty or new folder")
    run_dir.mkdir(parents=True, exist_ok=True)  # (config.json is written once the checkpoints are read)


def _progress_bar(total: int, start: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    import sys

    # In a terminal the bar redraws twice a second; in a log file (not a TTY) it writes a line every 30 s.
    interval = 0.5 if sys.stderr.isatty() else 30.0
    return tqdm(total=total, initial=start, unit="img", unit_scale=True, dynamic_ncols=True, smoothing=0.05,
                desc="train", mininterval=interval, maxinterval=max(10.0, interval))


# Section: step helpers.

def _set_requires_grad(params: list[torch.nn.Parameter], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


class _Interrupt:
    """Ctrl-C (SIGINT) asks the loop to stop after the current step, with a checkpoint there, so no work
    is lost; a second Ctrl-C stops at once. Only in a one-process run (in a multi-process run the others
    would wait in a collective for the process that stopped) and from the main thread, where Python
    delivers signals; elsewhere Ctrl-C raises KeyboardInterrupt as usual."""

    def __init__(self, enabled: bool, log: Callable[[str], None]):
        self.requested, self.log = False, log
        self._installed = enabled and threading.current_thread() is threading.main_thread()
        if self._installed:
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.log("stopping after this step, with a checkpoint (Ctrl-C again to stop at once)")

    def close(self) -> None:
        if self._installed:
            previous = self._previous if self._previous is not None else signal.default_int_handler
            signal.signal(signal.SIGINT, previous)
            self._installed = False


def _time_is_up(deadline: float, s: Setup) -> bool:
    """Every process stops at the same step: the first process's clock decides."""
    up = torch.tensor([1.0 if time.perf_counter() > deadline else 0.0], device=s.device)
    if s.world.size > 1:
        from ganvas.utils.dist import broadcast_tensor

        broadcast_tensor(up, s.world)
    return bool(up.item())


def _check_in_sync(s: Setup) -> None:
    """All processes must hold the same weights (they apply the same summed gradients); check it cheaply
    at each checkpoint, so a silent divergence cannot go on for days."""
    if s.world.size == 1:
        return
    from ganvas.utils.dist import all_reduce_sum

    sums = torch.stack([torch.cat([p.detach().double().flatten() for p in net.parameters()]).sum()
                        for net in (s.G, s.D)])
    mean = all_reduce_sum(sums.to(s.device).clone(), s.world) / s.world.size
    if not torch.allclose(sums.to(mean), mean, rtol=1e-9, atol=1e-9):
        raise GanvasError(f"process {s.world.rank}'s weights differ from the others' ({sums.tolist()} vs mean "
                          f"{mean.tolist()}); the run cannot continue. Restart it: it resumes from the last checkpoint")


def _count_bad(ok: bool, bad_steps: dict[str, int], stats: Stats, nimg: int, net: str, cfg: RunConfig) -> None:
    if ok:
        bad_steps[net] = 0
        return
    bad_steps[net] += 1
    stats.event(nimg, "nonfinite_step_skipped", net=net, consecutive=bad_steps[net])
    if bad_steps[net] >= cfg.train.max_bad_steps:
        raise TrainingDiverged(
            f"training diverged: {bad_steps[net]} consecutive {net} steps gave non-finite losses or gradients "
            f"(last at {nimg / 1000:g} kimg, in {net}). No NaN weights were written; the last good "
            f"checkpoint is kept. Try a lower learning rate (--set optim.{net}.lr=...) or another --loss.")


def _check_finite(net: torch.nn.Module, name: str) -> None:
    for k, v in net.state_dict().items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise TrainingDiverged(f"{name} holds non-finite values in {k}; nothing was written. Rerun to "
                                   "resume from the last good checkpoint, with a lower learning rate.")


def _evaluate(evaluator, run_dir: Path, s: Setup, nimg: int, stats: Stats, cfg: RunConfig, data) -> None:
    """Score G_ema, append to metrics.jsonl, and export it to RUN_DIR/best when it is the best so far."""
    if s.world.size > 1:  # batch-norm statistics are per process: score the main process's G_ema everywhere
        from ganvas.utils.dist import broadcast_tensor

        for b in s.G_ema.buffers():
            broadcast_tensor(b, s.world)
    scores = evaluator(s.G_ema)
    if not s.world.is_main:
        return
    key = next((k for k in ("fid", "kid") if k in scores), None)  # lower is better for both
    path = run_dir / "metrics.jsonl"
    rows = read_stats(path)
    best = key is not None and all(scores[key] < r.get(key, float("inf")) for r in rows)
    row = {"nimg": nimg, "kimg": round(nimg / 1000, 3), "extractor": evaluator.label, **scores}
    if best:
        row["best"] = True
        checkpoint.export_generator(run_dir / "best", s.G_ema, s.model_name, _facts(cfg, data, s, nimg))
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    stats.scalars(nimg, {f"Metrics/{k}": v for k, v in scores.items() if k in ("fid", "kid", "precision", "recall",
                                                                                  "density", "coverage")})
    plot_series(path, run_dir / "metrics.png", [k for k in ("fid", "kid") if k in scores] or list(scores)[:1],
                f"ganvas metrics ({evaluator.label})")


def _save_checkpoint(run_dir: Path, s: Setup, nimg: int, bad_steps: dict[str, int], cfg: RunConfig) -> None:
    for net, name in ((s.G, "G"), (s.D, "D"), (s.G_ema, "G_ema")):
        _check_finite(net, name)
    checkpoint.save_state(run_dir, {
        "nimg": nimg, "bad_steps_G": bad_steps["G"], "bad_steps_D": bad_steps["D"], "G": s.G.state_dict(),
        "D": s.D.state_dict(),
        "G_ema": s.G_ema.state_dict(), "opt_G": s.opt_G.state_dict(), "opt_D": s.opt_D.state_dict(),
        "rng": {"torch": torch.get_rng_state()}, "config": cfg.to_json(), "ganvas_version": __version__,
        "augment": ({"state": s.ada.state_dict(), "acc": [float(s.ada_acc[0]), int(s.ada_acc[1])]}
                    if s.ada is not None else {}),
        "scalers": {k: v.state_dict() for k, v in (("G", s.scaler_G), ("D", s.scaler_D)) if v is not None},
    }, keep=cfg.train.keep_checkpoints)


def _restore(state: dict, s: Setup) -> tuple[int, dict[str, int]]:
    try:
        s.G.load_state_dict(state["G"])
        s.D.load_state_dict(state["D"])
        s.G_ema.load_state_dict(state["G_ema"])
        s.opt_G.load_state_dict(state["opt_G"])
        s.opt_D.load_state_dict(state["opt_D"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise GanvasError(f"checkpoint {state.get('path')} does not fit this config ({e}); "
                          "choose a new --out folder") from None
    torch.set_rng_state(state["rng"]["torch"])
    if s.ada is not None and state.get("augment"):
        s.ada.load_state_dict(state["augment"]["state"])
        s.ada_acc[:] = [float(state["augment"]["acc"][0]), int(state["augment"]["acc"][1])]
    for name, scaler in (("G", s.scaler_G), ("D", s.scaler_D)):
        if scaler is not None and name in state.get("scalers", {}):
            scaler.load_state_dict(state["scalers"][name])
    return int(state["nimg"]), {"G": int(state["bad_steps_G"]), "D": int(state["bad_steps_D"])}


def _start_from(other: str, s: Setup, freeze_d: int = 0) -> str:
    """Transfer learning: load another run's latest G, D and G_ema (not its optimizer state or image count).

    At another resolution, a model that can grow or shrink (the style-based one) carries over the layers
    both resolutions share and says which layers start fresh; other models refuse with the reason.
    """
    other_dir = Path(other).expanduser()
    if not other_dir.is_dir():
        raise GanvasError(f"--resume-from {other_dir}: no such run folder")
    state = checkpoint.load_latest_state(other_dir)
    if state is None:
        raise GanvasError(f"--resume-from {other_dir}: it holds no checkpoint (checkpoints/ckpt-*.pt)")
    try:
        theirs_model = json.loads(state.get("config", "{}")).get("model", {}).get("name")
    except ValueError:
        theirs_model = None
    if theirs_model not in (None, "auto", s.model_name):
        raise GanvasError(f"--resume-from {other_dir}: it trained a {theirs_model!r} model, this run trains "
                          f"{s.model_name!r}; pass --model {theirs_model} (and its widths) to continue from it")
    added: dict[str, list[str]] = {}
    for name, net in (("G", s.G), ("D", s.D), ("G_ema", s.G_ema)):
        mine = net.state_dict()
        theirs = state[name]
        bad = [k for k in mine if k not in theirs or tuple(theirs[k].shape) != tuple(mine[k].shape)]
        extra = [k for k in theirs if k not in mine]
        if bad or extra:
            try:  # another resolution: the model carries over what it can, if it can
                theirs, added[name] = net.state_at_my_resolution(theirs)
            except ValueError as e:
                k = (bad or extra)[0]
                got = tuple(state[name][k].shape) if k in state[name] else "missing"
                want = tuple(mine[k].shape) if k in mine else "missing"
                raise GanvasError(
                    f"--resume-from {other_dir}: its {name} does not fit this config ({len(bad) + len(extra)} "
                    f"tensors differ, e.g. {k}: {got} there, {want} here). The model, its widths, z size and the "
                    f"number of classes must match, and the resolution unless the model can change it ({e}).") from None
        net.load_state_dict(theirs)
    message = (f"starting from the weights of {other_dir} ({Path(state['path']).name}, "
               f"{int(state['nimg']) / 1000:g} kimg)")
    if added:
        new_D = added.get("D", [])
        message += (f"; at {s.info.resolution} px G adds {', '.join(added.get('G', [])) or 'nothing'} "
                    f"and D adds {', '.join(new_D) or 'nothing'}, which start fresh")
        names = {id(m): n for n, m in s.D.named_modules()}
        clash = [names.get(id(m)) for m in s.D.input_layers()[:max(0, freeze_d)] if names.get(id(m)) in new_D]
        if clash:
            raise GanvasError(f"--freeze-d {freeze_d} would freeze D layers that are new at this resolution "
                              f"({', '.join(clash)}) at their random start; freeze none at another resolution")
    return message


def _facts(cfg: RunConfig, data, s: Setup, nimg: int) -> dict:
    is_image = isinstance(data, ImageDataset)
    return {
        "kind": s.info.kind,
        "resolution": s.info.resolution,
        "z_dim": s.G.z_dim,
        "c_dim": s.c_dim,
        "label_names": list(data.label_names) if (is_image and s.c_dim) else [],
        "training": {
            "nimg": nimg, "kimg": nimg / 1000, "dataset": data.name if is_image else data.name,
            "dataset_fingerprint": getattr(data, "fingerprint", data.name), "loss": cfg.loss.name,
            "seed": cfg.train.seed, "batch": cfg.train.batch, "ganvas_version": __version__,
        },
    }


__all__ = ["train", "TrainResult"]
