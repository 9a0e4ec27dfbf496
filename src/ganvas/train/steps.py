"""What one training iteration needs: the prepared networks and data (`Setup`), and the D and G steps.

Batches are global. `train.batch` images make one step whatever the number of processes: process r
of W takes rows [r*B/W, (r+1)*B/W) of the step's batch, in micro-batches of `train.batch_gpu` rows
whose gradients accumulate. Every loss is a sum over the micro-batch divided by the global batch, and
gradients are summed across processes, so the update equals a single-process step on the whole batch
(to float rounding). The step's real rows, latents and labels are drawn for the whole batch from
(seed, nimg) and then sliced, and the noise of augmentation, noise inputs and penalties is keyed by the
micro-batch's first row, so a run is the same for any number of processes with the same `batch_gpu`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import torch

from ganvas.augment import AUGMENTS
from ganvas.config import RunConfig
from ganvas.data.dataset import ImageDataset
from ganvas.data.sampler import ImageBatches, PointBatches
from ganvas.errors import ConfigError, first_sentence
from ganvas.losses import LOSSES, PENALTIES, r1_penalty
from ganvas.models import MODELS, DataInfo, resolve_model_name
from ganvas.nn import state_buffers
from ganvas.train.stats import StepLog
from ganvas.utils.device import autocast, resolve_device, resolve_precision
from ganvas.utils.dist import World, all_reduce_sum
from ganvas.utils.seeding import make_generator

ADA_INTERVAL = 4  # D steps between adjustments of the augmentation probability (StyleGAN2-ADA's ada_interval)


@dataclass
class Setup:
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
    device: torch.device
    world: World
    batch_gpu: int  # rows per forward pass on this process
    G_fwd: Callable  # G, or its torch.compile'd form (same parameters)
    D_fwd: Callable
    ada: object | None = None  # the adaptive augmentation, when --aug ada (its p is part of the checkpoint)
    # Sum of sign D(real) and the number of images since the ADA controller's last adjustment.
    ada_acc: list = dataclasses.field(default_factory=lambda: [0.0, 0])
    # fp16 only: dynamic loss scaling, one scaler per network (their gradients differ in size by orders).
    scaler_G: torch.amp.GradScaler | None = None
    scaler_D: torch.amp.GradScaler | None = None
    cudagraphs: bool = False  # torch.compile records CUDA graphs (compile modes other than "default", on CUDA)
    # train.reuse_fakes: the last D step's fakes, with G's graph, per micro-batch: (gen_img, c), for the G step
    kept_fakes: list | None = None

    def begin_step(self) -> None:
        """Marks a new training step for CUDA graphs: what the previous step's compiled calls returned may now
        be overwritten (without the mark, torch cannot tell a new step from a call that keeps old outputs)."""
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()

    def scaled(self, loss: torch.Tensor, scaler: torch.amp.GradScaler | None) -> torch.Tensor:
        return scaler.scale(loss) if scaler is not None else loss

    def autocast(self):
        return autocast(self.device, self.precision)

    def micro_offsets(self, batch: int) -> list[int]:
        """First global row of each of this process's micro-batches."""
        shard = batch // self.world.size
        return [self.world.rank * shard + k for k in range(0, shard, self.batch_gpu)]

    def tag(self, batch: int, lo: int) -> tuple[int, ...]:
        """Extra noise key for a micro-batch: none when one pass covers the whole batch (the common case)."""
        return () if self.batch_gpu == batch else (lo,)

    def D_seen(self, x: torch.Tensor, c: torch.Tensor | None, seed: int, key: tuple,
               eager: bool = False, styles: bool = False):
        """D's float32 logits [N] for x as D sees it: augmented (if configured) with noise from (seed, key).

        `eager` skips torch.compile: penalties on input gradients need a double backward, which compiled
        graphs do not support.
        """
        if self.augment is not None:
            x = self.augment(x, make_generator(seed, "aug", *key))
        D = self.D if eager else self.D_fwd
        if styles:  # creative mode: (logits [N], style logits [N, K])
            logits, style_logits = D(x, c, styles=True)
            return logits.float(), style_logits
        return D(x, c).float()

    def D_pair(self, real: torch.Tensor, gen: torch.Tensor, c: torch.Tensor | None, seed: int, real_key: tuple,
               gen_key: tuple, eager: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """D_seen of real and generated samples in one pass, for a D that scores each sample on its own:
        the same logits (to float rounding) as two calls, with half the per-call overhead."""
        if self.augment is not None:
            real = self.augment(real, make_generator(seed, "aug", *real_key))
            gen = self.augment(gen, make_generator(seed, "aug", *gen_key))
        D = self.D if eager else self.D_fwd
        logits = D(torch.cat([real, gen]), None if c is None else torch.cat([c, c])).float()  # [2N]
        return logits[: len(real)], logits[len(real):]

    def G_train(self, z: torch.Tensor, c: torch.Tensor | None, seed: int, key: tuple) -> torch.Tensor:
        """G's training forward pass; a model's own noise (style-based noise inputs, style mixing) comes from
        (seed, key), so a resumed run draws what an uninterrupted one would have."""
        if not hasattr(self.G, "noise_gen"):
            return self.G_fwd(z, c)
        noise_gen = make_generator(seed, "noise", *key, device=self.device)  # noise is drawn on the device
        self.G.noise_gen = noise_gen
        if hasattr(self.G, "draw_mixing"):  # drawn here, outside a compiled G
            # Whether to mix, and from which layer, is decided on the host: from a CPU generator.
            host_gen = noise_gen if noise_gen.device.type == "cpu" else make_generator(seed, "mix", *key)
            return self.G_fwd(z, c, mix=self.G.draw_mixing(z, host_gen, noise_gen))
        return self.G_fwd(z, c)

    def latents(self, n: int, stream: str, seed: int, nimg: int) -> torch.Tensor:
        """z [n, z_dim] for one step, drawn on the training device (no copy from the host)."""
        gen = make_generator(seed, stream, nimg, device=self.device)
        return torch.randn(n, self.G.z_dim, generator=gen, device=self.device)

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def onehot(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        if not self.c_dim or labels is None:
            return None
        return torch.nn.functional.one_hot(labels, self.c_dim).float().to(self.device, non_blocking=True)

    def gen_labels(self, nimg: int, n: int) -> torch.Tensor | None:
        """Labels for G's fakes: the class mix of the data, from a stream position of its own."""
        if not self.c_dim:
            return None
        return self.batches.labels[self.batches.indices(nimg + 7919, n)]


def check_names(cfg: RunConfig) -> None:
    """Fail on an unknown model, loss, augmentation, metric or feature extractor name before any data is
    read: a typo should not wait for a large folder to decode."""
    if cfg.model.name != "auto":
        MODELS.get(cfg.model.name)
    LOSSES.get(cfg.loss.name)
    AUGMENTS.get(cfg.aug.name)
    if cfg.train.metrics:  # scored during training: a typo should not wait for the first evaluation either
        from ganvas.metrics.features import EXTRACTORS
        from ganvas.metrics.registry import METRICS

        for name in training_metrics(cfg):
            METRICS.get(name)
        EXTRACTORS.get(cfg.train.metrics_extractor)


def training_metrics(cfg: RunConfig) -> list[str]:
    """The metrics to score during training, from the comma list `train.metrics`."""
    return [m.strip() for m in cfg.train.metrics.split(",") if m.strip()]


def build_setup(cfg: RunConfig, data, world: World) -> Setup:
    is_image = isinstance(data, ImageDataset)
    kind = "image" if is_image else "points"
    model_name = resolve_model_name(cfg.model.name, kind)
    use_labels = is_image and cfg.data.labels != "none" and data.num_classes > 1
    creative = cfg.loss.creative_weight > 0
    if creative and not use_labels:
        raise ConfigError("--creative learns from the styles it must avoid, so it needs labelled images: "
                          "--labels subdirs (one subfolder per style), or --data emoji --labels subdirs")
    # Creative mode: G stays unconditional and D learns to tell the styles apart (CAN, Elgammal et al. 2017).
    info = DataInfo(kind, resolution=data.resolution if is_image else 0,
                    num_classes=data.num_classes if use_labels and not creative else 0,
                    style_classes=data.num_classes if creative else 0,
                    extent=1.0 if is_image else float(data.means.abs().max()))
    loss = LOSSES.get(cfg.loss.name)
    model_cfg = cfg.model
    if model_cfg.d_norm == "auto":  # a gradient penalty needs a per-sample critic: no batch statistics
        model_cfg = dataclasses.replace(model_cfg, d_norm="layer" if loss.penalty else "batch")
    elif model_cfg.d_norm == "batch" and loss.penalty:
        raise ConfigError(f"{loss.name} penalises per-sample gradients, which batch norm in D mixes; "
                          "use --set model.d_norm=layer (or none)")
    batch_gpu = _batch_gpu(cfg, world)
    device = resolve_device(cfg.train.device, world.local_rank)
    torch.manual_seed(cfg.train.seed)  # model init: the one use of the global RNG, seeded explicitly
    G, D = MODELS.get(model_name).build(model_cfg, info)
    G, D = G.to(device), D.to(device)
    channels_last = cfg.train.channels_last and kind == "image"
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    G.train()
    D.train()
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    a_G, a_D = cfg.optim.G, cfg.optim.D
    # Fused Adam: one kernel for the whole update (CPU and GPU); on a small net it is 3.7x faster per step.
    opt_G = torch.optim.Adam(G.parameters(), lr=a_G.lr, betas=a_G.betas, eps=a_G.eps, fused=True)
    opt_D = torch.optim.Adam(D.parameters(), lr=a_D.lr, betas=a_D.betas, eps=a_D.eps, fused=True)
    batches = ImageBatches(data, cfg.train.seed) if is_image else PointBatches(data, cfg.train.seed)
    if is_image and not use_labels:
        batches.labels = None  # (creative mode keeps them: D's style head learns from them)
    if is_image and device.type == "cuda":
        batches.to(device)  # the uint8 images live on the GPU: no host-to-device copy per step
    penalty = PENALTIES.get(loss.penalty) if loss.penalty else None
    precision = resolve_precision(cfg.train.precision, device)
    if cfg.train.precision == "auto" and kind == "points":
        # 2-D modes 0.01 wide need more than bf16's 8 mantissa bits, and a tiny MLP gains no speed from it.
        precision = "fp32"
    if device.type == "cuda" and precision == "fp32":
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 tensor cores for fp32 matmuls and convolutions
        torch.backends.cudnn.allow_tf32 = True
    augment = AUGMENTS.get(cfg.aug.name)(cfg.aug.policy)
    ada = augment if hasattr(augment, "adjust") else None
    if ada is not None:
        ada.target, ada.speed_kimg = cfg.aug.ada_target, cfg.aug.ada_kimg
        if cfg.aug.ada_p >= 0:
            ada.p, ada.fixed = cfg.aug.ada_p, True
    mode = cfg.train.compile_mode
    cudagraphs = cfg.train.compile and mode != "default" and device.type == "cuda"
    if cudagraphs and cfg.train.reuse_fakes:
        raise ConfigError(f"train.reuse_fakes keeps G's output and graph through D's step, where CUDA graphs "
                          f"(train.compile_mode={mode}) may overwrite them; use one or the other")
    if cfg.train.compile and device.type == "cpu":
        _check_cpu_compiler()
    G_fwd, D_fwd = (torch.compile(G, mode=mode), torch.compile(D, mode=mode)) if cfg.train.compile else (G, D)
    # fp16's 5 exponent bits underflow small gradients: scale the losses up, and the gradients back down
    # before the update, with the scale halved on overflow and doubled after 2,000 clean steps.
    scaler_G, scaler_D = ((torch.amp.GradScaler(device.type), torch.amp.GradScaler(device.type))
                          if precision == "fp16" else (None, None))
    return Setup(info, model_name, G, D, G_ema, opt_G, opt_D, loss, penalty, batches, info.num_classes,
                 precision, channels_last, augment, device, world, batch_gpu, G_fwd, D_fwd, ada,
                 scaler_G=scaler_G, scaler_D=scaler_D,
                 cudagraphs=cudagraphs)


def divisors(n: int) -> list[int]:
    """The per-pass sizes that split n images evenly, ascending."""
    return [d for d in range(1, n + 1) if n % d == 0]


def _check_cpu_compiler() -> None:
    """torch.compile on a CPU writes C++: without a compiler it fails at the first step, deep in a traceback."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
    except ImportError:  # another torch: its own error will have to do
        return
    try:
        get_cpp_compiler()
    except Exception as e:
        raise ConfigError("train.compile (--compile) on a CPU needs a C++ compiler, and none works here "
                          f"({first_sentence(e, 160)}): install g++ (or set CXX), or train without "
                          "--compile, which on CPUs is faster anyway") from None


def _batch_gpu(cfg: RunConfig, world: World) -> int:
    batch = cfg.train.batch
    if batch % world.size:
        lower, upper = batch // world.size * world.size, (batch // world.size + 1) * world.size
        nearest = f"--batch {lower} or {upper}" if lower else f"--batch {upper}"
        raise ConfigError(f"--batch {batch} must divide evenly over the {world.size} processes: "
                          f"use a multiple of {world.size}, e.g. {nearest}")
    shard = batch // world.size
    batch_gpu = cfg.train.batch_gpu or shard
    if shard % batch_gpu:
        shown = ", ".join(map(str, divisors(shard)[-12:]))  # (the largest, when there are many)
        raise ConfigError(f"--batch-gpu {batch_gpu} must divide the {shard} images each process takes per step "
                          f"(--batch {batch} over {world.size} process{'es' if world.size > 1 else ''}): "
                          f"use one of {shown}")
    return batch_gpu


# Section: the steps.

def d_step(s: Setup, cfg: RunConfig, log: StepLog, nimg: int, keep_fakes: bool = False) -> None:
    """One D update on the global batch at stream position nimg, reported to `log`. With `keep_fakes` G's
    forward pass keeps its graph and the fakes are kept for the G step that follows (train.reuse_fakes)."""
    batch, seed = cfg.train.batch, cfg.train.seed
    # Lazy regularisation (StyleGAN2 appendix B): R1 on one step in r1_interval, weighted by the interval.
    interval = max(1, cfg.loss.r1_interval)
    r1_weight = 0.5 * cfg.loss.r1_gamma * interval if (nimg // batch) % interval == 0 else 0.0
    s.begin_step()
    z_all = s.latents(batch, "z/D", seed, nimg)
    s.opt_D.zero_grad(set_to_none=True)
    creative = s.info.style_classes > 0
    # Sums over this process's rows: adversarial loss, R1, penalty, real logits, fake logits, sign of real
    # logits, style classification loss (creative mode).
    totals = torch.zeros(8, dtype=torch.float64, device=s.device)
    s.kept_fakes = [] if keep_fakes else None
    for lo in s.micro_offsets(batch):
        rows, tag = slice(lo, lo + s.batch_gpu), s.tag(batch, lo)
        real_img, real_c = s.batches.batch(nimg, batch, rows)
        real_img, c = s.to_device(real_img), s.onehot(real_c)
        if r1_weight:
            real_img.requires_grad_(True)
        with s.autocast():
            if keep_fakes:  # G's graph stays for the G step; D learns from the fakes detached from it
                kept = s.G_train(z_all[rows], c, seed, ("D", nimg, *tag))
                s.kept_fakes.append((kept, c))
                gen_img = kept.detach()
            else:
                with torch.no_grad():
                    gen_img = s.G_train(z_all[rows], c, seed, ("D", nimg, *tag))
            loss_r1 = loss_pen = loss_style = loss_recon = torch.zeros((), device=s.device)
            # One D pass over [real; generated] where D scores samples independently, except on R1 steps:
            # R1's double backward would then run over the generated half too, which costs more than it saves.
            if getattr(s.D, "per_sample", False) and not creative and not r1_weight:
                real_logits, gen_logits = s.D_pair(real_img, gen_img, c, seed, ("real", nimg, *tag),
                                                   ("fake", nimg, *tag))
            else:
                real_out = s.D_seen(real_img, c, seed, ("real", nimg, *tag), eager=bool(r1_weight), styles=creative)
                if creative:  # D also learns to name the style of real works (CAN eq. 2)
                    real_logits, real_style = real_out
                    loss_style = torch.nn.functional.cross_entropy(real_style, real_c.to(s.device, non_blocking=True),
                                                                   reduction="sum")
                else:
                    real_logits = real_out
                gen_logits = s.D_seen(gen_img, c, seed, ("fake", nimg, *tag))
            loss_adv = s.loss.d_loss(real_logits, gen_logits).sum()
            loss = loss_adv + loss_style
            if getattr(s.D, "reconstructs", False):  # FastGAN: D also reconstructs real images (self-supervision)
                loss_recon = s.D.reconstruction_loss(real_img).sum()
                loss = loss + loss_recon
            if r1_weight:  # R1: (gamma/2) E||grad_x D(x)||^2 on real images (Mescheder et al. 2018, eq. 9)
                k = loss_scale(s.scaler_D)  # fp16: input gradients are scaled too
                loss_r1 = r1_penalty(real_logits * k, real_img).sum() / (k * k)
                loss = loss + r1_weight * loss_r1
            if s.penalty is not None:
                D_pen = lambda x, c_: s.D_seen(x, c_, seed, ("pen", nimg, *tag), eager=True)  # noqa: E731
                loss_pen = s.penalty(D_pen, real_img, gen_img, c, make_generator(seed, "pen", nimg, *tag)).sum()
                loss = loss + cfg.loss.gp_weight * loss_pen
        s.scaled(loss / batch, s.scaler_D).backward()
        totals += torch.stack([loss_adv.detach(), loss_r1.detach(), loss_pen.detach(), real_logits.detach().sum(),
                               gen_logits.detach().sum(), real_logits.detach().sign().sum(),
                               loss_style.detach(), loss_recon.detach()]).double()
    ok, totals = reduce_and_step(s.opt_D, s.D, totals, s.world, s.scaler_D)
    host = {}
    if s.ada is not None:
        # The overfitting signal r_t = E[sign D(real)] (Karras et al. 2020, sec. 3) moves p every ADA_INTERVAL
        # steps: the controller's one read of the device in the loop, as in StyleGAN2-ADA.
        s.ada_acc[0] = s.ada_acc[0] + totals[5]
        s.ada_acc[1] += batch
        if (nimg // batch) % ADA_INTERVAL == ADA_INTERVAL - 1:
            s.ada.adjust(max(-1.0, min(1.0, float(s.ada_acc[0]) / s.ada_acc[1])), int(s.ada_acc[1]))
            s.ada_acc[:] = [0.0, 0]
        host["Augment/p"] = s.ada.p
    # Scores/real_sign is r_t, near 1 when D memorises its data.
    log.add(nimg, "D", ok, totals / batch,
            ["Loss/D/adv", "Loss/D/r1" if r1_weight else None, "Loss/D/penalty" if s.penalty is not None else None,
             "Scores/real", "Scores/fake", "Scores/real_sign", "Loss/D/style" if creative else None,
             "Loss/D/recon" if getattr(s.D, "reconstructs", False) else None], host)


def loss_scale(scaler: torch.amp.GradScaler | None) -> torch.Tensor | float:
    """fp16's current loss scale, left on the device (`get_scale()` would read it back every step)."""
    if scaler is None:
        return 1.0
    scale = scaler._get_scale_async()
    return scaler.get_scale() if scale is None else scale  # (None before the first scaled loss)


def g_step(s: Setup, cfg: RunConfig, log: StepLog, nimg: int) -> None:
    """One G update with fresh latents (and labels) at stream position nimg, or on the fakes the last D step
    kept (train.reuse_fakes), reported to `log`."""
    batch, seed = cfg.train.batch, cfg.train.seed
    kept, s.kept_fakes = s.kept_fakes, None
    s.begin_step()
    if kept is None:
        z_all = s.latents(batch, "z/G", seed, nimg)
        labels_all = s.gen_labels(nimg, batch)
    creative = s.info.style_classes > 0
    s.opt_G.zero_grad(set_to_none=True)
    totals = torch.zeros(3, dtype=torch.float64, device=s.device)  # adversarial loss, style ambiguity, entropy
    for i, lo in enumerate(s.micro_offsets(batch)):
        rows, tag = slice(lo, lo + s.batch_gpu), s.tag(batch, lo)
        with s.autocast():
            if kept is not None:  # train.reuse_fakes: the fakes D was just trained on, with G's graph
                gen_img, c = kept[i]
            else:
                c = s.onehot(None if labels_all is None or creative else labels_all[rows])
                gen_img = s.G_train(z_all[rows], c, seed, ("G", nimg, *tag))
            out = s.D_seen(gen_img, c, seed, ("gen", nimg, *tag), styles=creative)
            loss_amb = entropy = torch.zeros((), device=s.device)
            if creative:
                gen_logits, gen_style = out
                loss_amb, entropy = style_ambiguity(gen_style)
            else:
                gen_logits = out
            loss_adv = s.loss.g_loss(gen_logits).sum()
            loss = loss_adv + cfg.loss.creative_weight * loss_amb
        s.scaled(loss / batch, s.scaler_G).backward()
        totals += torch.stack([loss_adv.detach(), loss_amb.detach(), entropy.detach()]).double()
    ok, totals = reduce_and_step(s.opt_G, s.G, totals, s.world, s.scaler_G)
    log.add(nimg, "G", ok, totals / batch, ["Loss/G/adv", "Loss/G/style_ambiguity" if creative else None,
                                            "Scores/fake_style_entropy" if creative else None])


def style_ambiguity(style_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CAN's style-ambiguity loss (Elgammal et al. 2017, eq. 3): cross-entropy from D's style posterior to the
    uniform distribution over the K styles, -(1/K) sum_k log p_k, summed over the batch; and the summed
    entropy of the posterior (log K at most) to log how ambiguous G's works look to D."""
    logp = torch.log_softmax(style_logits.float(), dim=1)  # [N, K]
    ambiguity = -logp.mean(dim=1).sum()
    entropy = -(logp.exp() * logp).sum()
    return ambiguity, entropy


def reduce_and_step(opt: torch.optim.Optimizer, net: torch.nn.Module, totals: torch.Tensor,
                    world: World, scaler: torch.amp.GradScaler | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum gradients and `totals` over processes, then step, unless anything is non-finite.

    A skipped step leaves no trace: the parameters and Adam's moments stay as they were, and batch-norm
    running statistics updated by the step's forward passes are restored. Every process sees the same
    summed values, so every process makes the same decision. With fp16 loss scaling (`scaler`), the summed
    gradients are unscaled before the check, and the scale is updated either way (halved after an
    overflow).

    The decision is made on the device: a fused optimizer takes it as its `found_inf` input and skips the
    update in its kernel, so nothing here waits for the GPU. Returns (applied, a 0-d bool tensor; the
    summed totals), both on the device: `StepLog` reads them later, many steps at once.
    """
    # The optimizer's own list: cheaper than walking the modules every step, and the same tensors.
    params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
    if world.size > 1:  # one collective carries every gradient and the totals
        flat = torch.cat([p.grad.flatten() for p in params] + [totals.to(params[0].grad.dtype if params
                                                                          else torch.float32)])
        all_reduce_sum(flat, world)
        offset = 0
        for p in params:
            p.grad.copy_(flat[offset: offset + p.numel()].view_as(p.grad))
            offset += p.numel()
        totals = flat[-len(totals):].double()
    if scaler is not None:
        scaler.unscale_(opt)  # true gradient sizes; notes any inf/NaN for scaler.update()
    finite = torch.isfinite(totals).all()
    if params:
        finite = finite & torch.isfinite(torch.stack(torch._foreach_norm([p.grad for p in params]))).all()
    # (opt.step, not scaler.step: the gradients are unscaled and checked already.)
    if opt.defaults.get("fused") and not host_reads_are_free(finite.device):
        opt.found_inf = (~finite).float()  # 1: the fused kernel leaves parameters, moments and step count alone
        opt.step()
    elif bool(finite):  # on the CPU a read costs nothing, and found_inf would cost ~20 us a step
        opt.step()
    if scaler is not None:
        scaler.update()
    keep_buffers(net, finite)
    return finite, totals


def host_reads_are_free(device: torch.device) -> bool:
    """Whether reading a value of this device on the host costs nothing (no queue of work to wait for)."""
    return device.type == "cpu"


def remember_buffers(net: torch.nn.Module) -> None:
    """Note the state buffers (batch-norm statistics, w_avg) and a copy of them as they are, for
    `keep_buffers` to fall back to. The list is gathered once, like EmaUpdater's: loading a state dict
    later copies in place, so it stays valid."""
    bufs = state_buffers(net)
    net._ganvas_good_buffers = (bufs, [b.detach().clone() for b in bufs])  # small: BN statistics, w_avg


@torch.no_grad()
def keep_buffers(net: torch.nn.Module, applied: torch.Tensor) -> None:
    """After a step: keep its buffer updates if it was applied, else restore the last good ones (on the
    device, with no read of `applied`)."""
    bufs, good = getattr(net, "_ganvas_good_buffers", ((), ()))
    if not bufs:
        return
    torch._foreach_copy_(bufs, [torch.where(applied, b, g) for b, g in zip(bufs, good)])
    torch._foreach_copy_(good, bufs)


def freeze_layers(D: torch.nn.Module, n: int) -> int:
    """Freeze-D (Mo et al. 2020): no gradients for D's first n layers from the image side; returns how
    many weights that fixes. Fine-tuning a pretrained D on a small set then adapts only its last layers."""
    if n <= 0:
        return 0
    layers = D.input_layers()
    if n >= len(layers):
        raise ConfigError(f"train.freeze_d={n}, but this D has {len(layers)} layers; freeze at most "
                          f"{len(layers) - 1}")
    count = 0
    for layer in layers[:n]:
        for p in layer.parameters():
            p.requires_grad_(False)
            count += p.numel()
    return count


def lr_factor(nimg: int, total_nimg: int, rampdown: float) -> float:
    """Learning-rate multiplier at `nimg`: 1, then a half cosine to 0 over the final `rampdown` of the run."""
    if rampdown <= 0 or total_nimg <= 0:
        return 1.0
    t = (nimg / total_nimg - (1 - rampdown)) / rampdown
    return 1.0 if t <= 0 else 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr
