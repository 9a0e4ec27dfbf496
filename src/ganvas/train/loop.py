"""The training loop: one readable function, setup in named helpers.

An iteration is `n_critic` D steps (each shows D `batch` real images, so nimg grows by batch) followed
by one G step and an EMA update. Everything random derives from (seed, purpose, nimg), and the full
state is checkpointed atomically, so rerunning the same command resumes and ends bit-identical to an
uninterrupted run (on the same machine and thread count).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ganvas import __version__, checkpoint
from ganvas.augment import AUGMENTS
from ganvas.config import RunConfig
from ganvas.data.dataset import ImageDataset
from ganvas.data.sampler import ImageBatches, PointBatches
from ganvas.data.sources import load_data
from ganvas.errors import ConfigError, GanvasError, TrainingDiverged
from ganvas.losses import LOSSES, PENALTIES, r1_penalty
from ganvas.models import MODELS, DataInfo, resolve_model_name
from ganvas.train.ema import ema_beta, update_ema
from ganvas.train.snapshots import save_fake_grid, save_real_grid
from ganvas.train.stats import Stats, plot_losses, plot_series, read_stats
from ganvas.utils.device import autocast, resolve_precision
from ganvas.utils.files import atomic_write_text
from ganvas.utils.seeding import make_generator

# Fields that may change between the first run and a resume without changing what is computed,
# apart from the duration, which may be extended.
RESUMABLE_CHANGES = {"train.kimg", "train.epochs", "train.threads", "train.tensorboard", "train.checkpoint_kimg",
                     "train.snapshot_kimg", "train.log_kimg", "train.keep_checkpoints", "train.grid_size",
                     "train.max_bad_steps"}


@dataclass
class TrainResult:
    run_dir: Path
    nimg: int
    generator: Path
    grid: Path | None
    loss_plot: Path | None
    resumed_from: int


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
    data = load_data(cfg.data, progress=progress)
    setup = _setup(cfg, data)
    total_nimg = _total_nimg(cfg, data)
    _prepare_run_dir(run_dir, cfg, log)
    G, D, G_ema, opt_G, opt_D = setup.G, setup.D, setup.G_ema, setup.opt_G, setup.opt_D
    nimg, bad_steps = 0, {"G": 0, "D": 0}  # consecutive non-finite steps per network
    state = checkpoint.load_latest_state(run_dir)
    if state is not None:
        nimg, bad_steps = _restore(state, setup)
        log(f"resuming {run_dir} from {nimg / 1000:g} kimg ({Path(state['path']).name})")
    resumed_from = nimg
    _remember_buffers(G)
    _remember_buffers(D)
    stats = Stats(run_dir, tensorboard=cfg.train.tensorboard)
    stats.truncate_after(nimg)
    grids = run_dir / "grids"
    log(f"training {setup.model_name} on {data.name} ({_describe(data, setup.c_dim)}) for {total_nimg / 1000:g} kimg, "
        f"{setup.precision}{', channels_last' if setup.channels_last else ''}, {torch.get_num_threads()} threads")
    if nimg == 0 and isinstance(data, ImageDataset):
        save_real_grid(data.images[: cfg.train.grid_size], grids / "reals.png")
    batch, n_critic = cfg.train.batch, cfg.train.n_critic
    grid_n = 1000 if setup.info.kind == "points" else cfg.train.grid_size

    kill_at = _fault_kill_at()
    evaluator = None
    if cfg.train.metrics:
        from ganvas.metrics.evaluate import TrainingEvaluator

        evaluator = TrainingEvaluator(cfg.data, [m.strip() for m in cfg.train.metrics.split(",") if m.strip()],
                                      cfg.train.metrics_num, cfg.train.metrics_extractor)

    def crossed(interval_kimg: float, before: int, after: int) -> bool:
        step = max(1, round(interval_kimg * 1000))
        return after // step > before // step or after >= total_nimg

    # Section: the loop.
    bar = _progress_bar(total_nimg, nimg, progress)
    t_tick, nimg_tick = time.perf_counter(), nimg
    try:
        while nimg < total_nimg:
            nimg_start = nimg
            lr_scale = lr_factor(nimg, total_nimg, cfg.optim.lr_rampdown)
            _set_lr(opt_G, cfg.optim.G.lr * lr_scale)
            _set_lr(opt_D, cfg.optim.D.lr * lr_scale)
            # D steps: real batch, fake batch, D loss (+ penalties), D update.
            D.requires_grad_(True)
            for _ in range(n_critic):
                loss_d = _d_step(setup, cfg, stats, nimg, bad_steps)
                nimg += batch
            # G step: fresh noise, G loss through D, G update, EMA.
            D.requires_grad_(False)
            loss_g = _g_step(setup, cfg, stats, nimg_start, bad_steps)
            update_ema(G_ema, G, ema_beta(nimg - nimg_start, nimg, cfg.train.ema_kimg, cfg.train.ema_rampup))

            # Housekeeping at kimg boundaries: progress, stats, grids, checkpoints.
            if bar is not None:
                bar.update(nimg - nimg_start)
                bar.set_postfix_str(f"D {loss_d.item():.3f}  G {loss_g.item():.3f}", refresh=False)
            if crossed(cfg.train.log_kimg, nimg_start, nimg):
                dt = time.perf_counter() - t_tick
                rate = (nimg - nimg_tick) / max(dt, 1e-9)
                stats.flush(nimg, {"Timing/img_per_sec": rate, "Timing/sec_per_kimg": 1000 / max(rate, 1e-9),
                                   "Progress/kimg": nimg / 1000})
                t_tick, nimg_tick = time.perf_counter(), nimg
            if crossed(cfg.train.snapshot_kimg, nimg_start, nimg):
                save_fake_grid(G_ema, grid_n, _grid_path(grids, nimg), nimg, setup.c_dim)
            if evaluator is not None and crossed(cfg.train.metrics_kimg or cfg.train.snapshot_kimg, nimg_start, nimg):
                _evaluate(evaluator, run_dir, setup, nimg, stats, cfg, data)
            if crossed(cfg.train.checkpoint_kimg, nimg_start, nimg):
                _save_checkpoint(run_dir, setup, nimg, bad_steps, cfg)
            if kill_at is not None and nimg >= kill_at:
                os.kill(os.getpid(), signal.SIGKILL)  # fault injection for the resume tests
    finally:
        if bar is not None:
            bar.close()
        stats.close()

    # Section: finish: export the EMA generator, the last grid and the loss plot.
    if not checkpoint.list_checkpoints(run_dir):  # e.g. a finished run rerun with no step to do
        _save_checkpoint(run_dir, setup, nimg, bad_steps, cfg)
    _check_finite(G_ema, "G_ema")
    checkpoint.export_generator(run_dir, G_ema, setup.model_name, _facts(cfg, data, setup, nimg))
    last_grid = sorted(grids.glob("fakes-*.png"))
    if not last_grid:
        last_grid = [save_fake_grid(G_ema, grid_n, _grid_path(grids, nimg), nimg, setup.c_dim)]
    plot = plot_losses(run_dir / "stats.jsonl", run_dir / "loss.png")
    return TrainResult(run_dir, nimg, run_dir / "generator.safetensors", last_grid[-1], plot, resumed_from)


# Section: setup helpers.

@dataclass
class _Setup:
    info: DataInfo
    model_name: str
    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    loss: object
    penalty: Callable | None
    batches: ImageBatches | PointBatches
    c_dim: int
    precision: str  # fp32 | bf16 (autocast for forward passes)
    channels_last: bool
    augment: Callable | None
    ada: object | None = None  # the adaptive augmentation, when --aug ada (its p is part of the checkpoint)
    ada_acc: list = dataclasses.field(default_factory=lambda: [0.0, 0])  # sum of sign D(real), images, since the last adjustment

    def autocast(self):
        return autocast(torch.device("cpu"), self.precision)

    def D_seen(self, x: torch.Tensor, c: torch.Tensor | None, seed: int, key: str, nimg: int) -> torch.Tensor:
        """D's float32 logits [N] for x as D sees it: augmented (if configured) with noise from (seed, key, nimg)."""
        if self.augment is not None:
            x = self.augment(x, make_generator(seed, "aug", key, nimg))
        return self.D(x, c).float()

    def G_train(self, z: torch.Tensor, c: torch.Tensor | None, seed: int, key: str, nimg: int) -> torch.Tensor:
        """G's training forward pass; a model's own noise (style-based noise inputs, style mixing) comes from
        (seed, key, nimg), so a resumed run draws what an uninterrupted one would have."""
        if hasattr(self.G, "noise_gen"):
            self.G.noise_gen = make_generator(seed, "noise", key, nimg)
        return self.G(z, c)

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def onehot(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        if not self.c_dim or labels is None:
            return None
        return torch.nn.functional.one_hot(labels, self.c_dim).float()

    def gen_labels(self, nimg: int, n: int) -> torch.Tensor | None:
        """Labels for G's fakes: the class mix of the data, from a stream position of its own."""
        if not self.c_dim:
            return None
        return self.batches.labels[self.batches.indices(nimg + 7919, n)]


def _setup(cfg: RunConfig, data) -> _Setup:
    is_image = isinstance(data, ImageDataset)
    kind = "image" if is_image else "points"
    model_name = resolve_model_name(cfg.model.name, kind)
    use_labels = is_image and cfg.data.labels != "none" and data.num_classes > 1
    info = DataInfo(kind, resolution=data.resolution if is_image else 0,
                    num_classes=data.num_classes if use_labels else 0)
    loss = LOSSES.get(cfg.loss.name)
    model_cfg = cfg.model
    if model_cfg.d_norm == "auto":  # a gradient penalty needs a per-sample critic: no batch statistics
        model_cfg = dataclasses.replace(model_cfg, d_norm="layer" if loss.penalty else "batch")
    elif model_cfg.d_norm == "batch" and loss.penalty:
        raise ConfigError(f"{loss.name} penalises per-sample gradients, which batch norm in D mixes; "
                          "use --set model.d_norm=layer (or none)")
    torch.manual_seed(cfg.train.seed)  # model init: the one use of the global RNG, seeded explicitly
    G, D = MODELS.get(model_name).build(model_cfg, info)
    channels_last = cfg.train.channels_last and kind == "image"
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    G.train()
    D.train()
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    a_G, a_D = cfg.optim.G, cfg.optim.D
    opt_G = torch.optim.Adam(G.parameters(), lr=a_G.lr, betas=a_G.betas, eps=a_G.eps)
    opt_D = torch.optim.Adam(D.parameters(), lr=a_D.lr, betas=a_D.betas, eps=a_D.eps)
    batches = ImageBatches(data, cfg.train.seed) if is_image else PointBatches(data, cfg.train.seed)
    if is_image and not use_labels:
        batches.labels = None
    penalty = PENALTIES.get(loss.penalty) if loss.penalty else None
    precision = resolve_precision(cfg.train.precision, torch.device("cpu"))
    if cfg.train.precision == "auto" and kind == "points":
        # 2-D modes 0.01 wide need more than bf16's 8 mantissa bits, and a tiny MLP gains no speed from it.
        precision = "fp32"
    augment = AUGMENTS.get(cfg.aug.name)(cfg.aug.policy)
    ada = augment if hasattr(augment, "adjust") else None
    if ada is not None:
        ada.target, ada.speed_kimg = cfg.aug.ada_target, cfg.aug.ada_kimg
    return _Setup(info, model_name, G, D, G_ema, opt_G, opt_D, loss, penalty, batches, info.num_classes,
                  precision, channels_last, augment, ada)


ADA_INTERVAL = 4  # D steps between adjustments of the augmentation probability (StyleGAN2-ADA's ada_interval)


def _grid_path(grids: Path, nimg: int) -> Path:
    return grids / f"fakes-{nimg / 1000:09.3f}kimg.png"  # e.g. fakes-00250.016kimg.png: sorts by time


def _describe(data, c_dim: int) -> str:
    if isinstance(data, ImageDataset):
        classes = f", conditional on {c_dim} classes" if c_dim else ""
        return f"{len(data)} image{'s' if len(data) != 1 else ''} at {data.resolution} px{classes}"
    return f"{data.num_modes} modes, 2-D"


def _fault_kill_at() -> int | None:
    """GANVAS_FAULT_KILL_AT_NIMG=N makes the process SIGKILL itself once nimg >= N (tests only)."""
    value = os.environ.get("GANVAS_FAULT_KILL_AT_NIMG")
    return int(value) if value else None


def _total_nimg(cfg: RunConfig, data) -> int:
    if cfg.train.epochs:
        return max(1, round(cfg.train.epochs * len(data)))
    return max(1, round(cfg.train.kimg * 1000))


def _prepare_run_dir(run_dir: Path, cfg: RunConfig, log: Callable[[str], None]) -> None:
    """Create the run folder, or check that an existing one was made by the same command."""
    if run_dir.exists() and not run_dir.is_dir():
        raise GanvasError(f"--out {run_dir} is a file; give a folder for the run")
    cfg_path = run_dir / "config.json"
    if cfg_path.exists():
        try:
            old = RunConfig.from_dict(json.loads(cfg_path.read_text()))
        except (ValueError, GanvasError):
            old = None
        if old is not None:
            from ganvas.config import flatten

            a, b = flatten(old.to_dict()), flatten(cfg.to_dict())
            diff = sorted(k for k in a if a[k] != b.get(k) and k not in RESUMABLE_CHANGES)
            if diff:
                changes = ", ".join(f"{k}: {a[k]!r} -> {b[k]!r}" for k in diff[:5])
                raise GanvasError(f"{run_dir} holds a run with a different config ({changes}). Rerun the "
                                  f"original command to resume it, or choose a new --out folder.")
    elif run_dir.exists() and any(run_dir.iterdir()) and not checkpoint.list_checkpoints(run_dir):
        raise GanvasError(f"--out {run_dir} exists and is not a ganvas run folder; choose an empty or new folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg_path, cfg.to_json() + "\n")


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

def _d_step(s: _Setup, cfg: RunConfig, stats: Stats, nimg: int, bad_steps: dict[str, int]) -> torch.Tensor:
    """One D update at stream position nimg; returns the adversarial loss."""
    batch, seed, D = cfg.train.batch, cfg.train.seed, s.D
    real_img, real_c = s.batches.batch(nimg, batch)
    real_img, c = s.layout(real_img), s.onehot(real_c)
    # Lazy regularisation (StyleGAN2 sec. B): R1 on one step in r1_interval, weighted by the interval.
    interval = max(1, cfg.loss.r1_interval)
    r1_weight = 0.5 * cfg.loss.r1_gamma * interval if (nimg // batch) % interval == 0 else 0.0
    if r1_weight:
        real_img.requires_grad_(True)
    z = torch.randn(batch, s.G.z_dim, generator=make_generator(seed, "z/D", nimg))
    with s.autocast():
        with torch.no_grad():
            gen_img = s.G_train(z, c, seed, "D", nimg)
        real_logits = s.D_seen(real_img, c, seed, "real", nimg)
        gen_logits = s.D_seen(gen_img, c, seed, "fake", nimg)
        loss_d = s.loss.d_loss(real_logits, gen_logits).mean()
        total = loss_d
        if r1_weight:  # R1: (gamma/2) E||grad_x D(x)||^2 on real images (Mescheder et al. 2018, eq. 9)
            loss_r1 = r1_penalty(real_logits, real_img).mean()
            total = total + r1_weight * loss_r1
        if s.penalty is not None:
            D_pen = lambda x, c_: s.D_seen(x, c_, seed, "pen", nimg)  # noqa: E731
            loss_pen = s.penalty(D_pen, real_img, gen_img, c, make_generator(seed, "pen", nimg)).mean()
            total = total + cfg.loss.gp_weight * loss_pen
    ok = _apply(s.opt_D, D, total)
    if r1_weight:
        stats.add("Loss/D/r1", loss_r1.item())
    if s.penalty is not None:
        stats.add("Loss/D/penalty", loss_pen.item())
    stats.add("Loss/D/adv", loss_d.item())
    stats.add("Scores/real", real_logits.mean().item())
    stats.add("Scores/fake", gen_logits.mean().item())
    # The overfitting signal r_t = E[sign D(real)] (Karras et al. 2020, sec. 3): near 1 when D memorises.
    real_sign = real_logits.detach().sign().sum().item()
    stats.add("Scores/real_sign", real_sign / batch)
    if s.ada is not None:
        s.ada_acc[0] += real_sign
        s.ada_acc[1] += batch
        if (nimg // batch) % ADA_INTERVAL == ADA_INTERVAL - 1:
            s.ada.adjust(s.ada_acc[0] / s.ada_acc[1], int(s.ada_acc[1]))
            s.ada_acc[:] = [0.0, 0]
        stats.add("Augment/p", s.ada.p)
    _count_bad(ok, bad_steps, stats, nimg, "D", cfg)
    return loss_d


def _g_step(s: _Setup, cfg: RunConfig, stats: Stats, nimg: int, bad_steps: dict[str, int]) -> torch.Tensor:
    """One G update with fresh noise (and fresh labels) at stream position nimg; returns G's loss."""
    batch, seed = cfg.train.batch, cfg.train.seed
    c = s.onehot(s.gen_labels(nimg, batch))
    z = torch.randn(batch, s.G.z_dim, generator=make_generator(seed, "z/G", nimg))
    with s.autocast():
        loss_g = s.loss.g_loss(s.D_seen(s.G_train(z, c, seed, "G", nimg), c, seed, "gen", nimg)).mean()
    ok = _apply(s.opt_G, s.G, loss_g)
    stats.add("Loss/G/adv", loss_g.item())
    _count_bad(ok, bad_steps, stats, nimg, "G", cfg)
    return loss_g


def lr_factor(nimg: int, total_nimg: int, rampdown: float) -> float:
    """Learning-rate multiplier at `nimg`: 1, then a half cosine to 0 over the final `rampdown` of the run."""
    if rampdown <= 0 or total_nimg <= 0:
        return 1.0
    t = (nimg / total_nimg - (1 - rampdown)) / rampdown
    return 1.0 if t <= 0 else 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def _apply(opt: torch.optim.Optimizer, net: torch.nn.Module, loss: torch.Tensor) -> bool:
    """Backward and step, unless the loss or a gradient is non-finite: then the step is undone.

    Batch-norm running statistics updated by this step's forward pass are restored too, so a bad
    batch leaves no trace in the weights, the optimizer state or the buffers.
    """
    opt.zero_grad(set_to_none=True)
    if not torch.isfinite(loss):
        _restore_buffers(net)
        return False
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    if grads and not torch.isfinite(torch.stack([g.abs().max() for g in grads]).max()):
        opt.zero_grad(set_to_none=True)
        _restore_buffers(net)
        return False
    opt.step()
    _remember_buffers(net)
    return True


def _remember_buffers(net: torch.nn.Module) -> None:
    net._ganvas_good_buffers = [b.detach().clone() for b in net.buffers()]  # small: BN statistics only


def _restore_buffers(net: torch.nn.Module) -> None:
    good = getattr(net, "_ganvas_good_buffers", None)
    if good is not None:
        with torch.no_grad():
            for b, g in zip(net.buffers(), good):
                b.copy_(g)


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


def _evaluate(evaluator, run_dir: Path, s: _Setup, nimg: int, stats: Stats, cfg: RunConfig, data) -> None:
    """Score G_ema, append to metrics.jsonl, and export it to RUN_DIR/best when it is the best so far."""
    scores = evaluator(s.G_ema)
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


def _save_checkpoint(run_dir: Path, s: _Setup, nimg: int, bad_steps: dict[str, int], cfg: RunConfig) -> None:
    for net, name in ((s.G, "G"), (s.D, "D"), (s.G_ema, "G_ema")):
        _check_finite(net, name)
    checkpoint.save_state(run_dir, {
        "nimg": nimg, "bad_steps_G": bad_steps["G"], "bad_steps_D": bad_steps["D"], "G": s.G.state_dict(), "D": s.D.state_dict(),
        "G_ema": s.G_ema.state_dict(), "opt_G": s.opt_G.state_dict(), "opt_D": s.opt_D.state_dict(),
        "rng": {"torch": torch.get_rng_state()}, "config": cfg.to_json(), "ganvas_version": __version__,
        "augment": {"state": s.ada.state_dict(), "acc": list(s.ada_acc)} if s.ada is not None else {},
    }, keep=cfg.train.keep_checkpoints)


def _restore(state: dict, s: _Setup) -> tuple[int, dict[str, int]]:
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
    return int(state["nimg"]), {"G": int(state["bad_steps_G"]), "D": int(state["bad_steps_D"])}


def _facts(cfg: RunConfig, data, s: _Setup, nimg: int) -> dict:
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
