"""One config tree of typed dataclasses, presets as data, dotted overrides.

    >>> cfg = build_config(overrides={"train.batch": "32", "loss.name": "hinge"})
    >>> cfg.train.batch, cfg.loss.name
    (32, 'hinge')

Resolution order: field defaults -> preset -> the chosen loss's recommended settings -> overrides.
Only keys the user set explicitly beat a loss's recommendations, so `--loss wgan-gp` alone gives a
working WGAN-GP setup (5 critic steps, Adam betas (0, 0.9)).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import shlex
import types
import typing
from dataclasses import asdict, dataclass, field
from typing import Any

from ganvas.errors import ConfigError

# Training precisions: fp32; bf16 autocast; fp16 autocast with dynamic loss scaling (a GradScaler per
# network, for GPUs without bf16); auto = bf16 where the hardware runs it natively, else fp32.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

IMAGE_SOURCES_BUILTIN = ("emoji",)
POINT_SOURCES = ("ring8", "grid25")


@dataclass
class DataConfig:
    source: str = "emoji"  # a folder path, or a built-in set: emoji, ring8, grid25
    resolution: int = 32  # training resolution in pixels (square)
    fit: str = "crop"  # non-square images: crop | pad | stretch
    background: str = "white"  # alpha is composited on this colour: a name or #rrggbb
    labels: str = "none"  # none | subdirs: first-level subfolders become class labels (emoji: its categories)


@dataclass
class ModelConfig:
    name: str = "auto"  # a registered model; auto = dcgan for images, mlp for 2-D points
    z_dim: int = 128
    width: int = 64  # channels of the layer next to the image; doubled per halving of resolution
    max_width: int = 512
    g_norm: str = "batch"  # generator normalisation: batch | pixel | none
    d_norm: str = "auto"  # D normalisation: batch | layer | spectral | none; auto = layer for WGAN-GP
    w_dim: int = 256  # style-based: width of z -> w mapping and of w
    map_layers: int = 2  # style-based: mapping network depth (StyleGAN2 uses 8; 2 suffices for small sets)
    style_mixing: float = 0.9  # style-based: probability of style-mixing regularisation per training batch
    noise: bool = True  # style-based: per-pixel noise inputs (stochastic detail); see auto_preset for when off
    # style-based: 2x resampling of feature maps: torch (F.interpolate, F.avg_pool2d) | conv (depthwise
    # convolutions: the same function through the convolution kernels; see ganvas.nn.resample)
    resample: str = "torch"
    hidden: int = 256  # MLP width (2-D data)
    depth: int = 3  # MLP hidden layers (2-D data)
    # MLP: the networks work on points divided by this (G's output is multiplied by it), so that they see
    # unit-scale data, as image models see [-1, 1]; 0 = auto, the data's extent (grid25: 4, ring8: 1).
    point_scale: float = 0.0


@dataclass
class LossConfig:
    name: str = "nonsat"  # a registered loss (see `ganvas models`)
    gp_weight: float = 10.0  # gradient penalty weight (WGAN-GP)
    r1_gamma: float = 0.0  # R1 penalty (gamma/2) E||grad D(real)||^2 (Mescheder et al. 2018); 0 = off
    # Creative mode (CAN, Elgammal et al. 2017) when > 0: the weight of G's style-ambiguity loss.
    creative_weight: float = 0.0
    r1_interval: int = 1  # lazy regularisation: R1 every this many D steps, weighted by the interval


@dataclass
class AugmentConfig:
    name: str = "none"  # none | diffaugment | ada: differentiable augmentation of every image D sees
    policy: str = "color,translation,cutout"  # DiffAugment ops (ada: bgc, or a list of blit, geom, color)
    ada_target: float = 0.6  # ada: target of r_t = E[sign D(real)]; p rises while D is more confident
    ada_kimg: float = 100.0  # ada: p can move from 0 to 1 in this many kimg (StyleGAN2-ADA: 500 for long runs)
    ada_p: float = -1.0  # ada: a fixed p in [0, 1] instead of the controller (StyleGAN2-ADA's --aug fixed); -1 adapts


@dataclass
class AdamConfig:
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    eps: float = 1e-8


@dataclass
class OptimConfig:
    G: AdamConfig = field(default_factory=AdamConfig)
    D: AdamConfig = field(default_factory=AdamConfig)
    lr_rampdown: float = 0.0  # final fraction of the run over which both learning rates fall to 0 (half cosine)


@dataclass
class TrainConfig:
    batch: int = 64  # images per step (global: over all processes)
    batch_gpu: int = 0  # images per forward pass on each process; 0 = batch / processes (no accumulation)
    device: str = "auto"  # auto (a GPU when there is one) | cpu | cuda
    resume_from: str = ""  # transfer learning: start from another run's latest G, D and G_ema weights
    freeze_d: int = 0  # Freeze-D (Mo et al. 2020): keep D's first N layers (from the image side) fixed
    compile_mode: str = "default"  # torch.compile mode: default | reduce-overhead (CUDA graphs) | max-autotune
    compile: bool = False  # torch.compile G and D (pays off on GPUs for long runs; needs a C++ compiler on CPUs)
    kimg: float = 100.0  # duration in thousands of real images shown to D
    epochs: float = 0.0  # alternative duration in passes over the dataset; 0 = use kimg
    minutes: float = 0.0  # stop this invocation after this much training time (checkpointed; rerun continues)
    n_critic: int = 1  # D steps per G step
    # The G step trains on the fakes of the iteration's last D step (its graph kept), instead of drawing new
    # ones: one G forward pass per iteration instead of two, as the PyTorch DCGAN example does.
    reuse_fakes: bool = False
    seed: int = 0
    ema_kimg: float = 10.0  # half-life of the generator EMA, in kimg
    ema_rampup: float = 0.05  # EMA half-life is at most this fraction of training so far (0 = off)
    checkpoint_kimg: float = 10.0  # full resumable state every this many kimg
    keep_checkpoints: int = 3
    snapshot_kimg: float = 10.0  # fixed-seed sample grid every this many kimg
    grid_size: int = 64  # images in each sample grid (seeds 0..grid_size-1)
    metrics: str = ""  # comma list of metrics (fid, kid, pr, dc) scored during training; "" = none
    metrics_kimg: float = 0.0  # score every this many kimg; 0 = at every snapshot
    metrics_num: int = 1000  # generated images per evaluation (and at most this many real ones)
    metrics_extractor: str = "effnet-lite0"
    log_kimg: float = 1.0  # stats line every this many kimg
    tensorboard: bool = True
    max_bad_steps: int = 20  # consecutive non-finite steps before the run stops
    threads: int = 0  # torch CPU threads; 0 = torch's default
    precision: str = "auto"  # fp32 | bf16 autocast | fp16 autocast + loss scaling | auto (bf16 where native)
    channels_last: bool = True  # NHWC memory layout for conv nets (faster with oneDNN and tensor cores)


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    aug: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        cfg = cls()
        for key, value in flatten(d).items():
            set_value(cfg, key, value, strict=False)
        return cfg


# Presets are data: dotted key -> value, applied after defaults and before the user's overrides.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # Tuned so `make demo` gives recognisable emoji in about 4 CPU-minutes on 2 cores: conditional on the
    # 8 emoji categories (one category per grid column), width 48, batch 32 for many steps. DiffAugment,
    # spectral norm and hinge were tried and converged more slowly at this budget (see README).
    "demo": {
        "data.source": "emoji",
        "data.resolution": 32,
        "data.labels": "subdirs",
        "model.name": "dcgan",
        "model.width": 48,
        "model.z_dim": 64,
        "train.batch": 32,
        "train.kimg": 250.0,
        "train.ema_kimg": 5.0,
        "train.snapshot_kimg": 50.0,
        "train.checkpoint_kimg": 25.0,
        "train.log_kimg": 2.0,
    },
}



def auto_preset(resolution: int, num_images: int, model: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The `auto` preset: settings chosen from the resolution and the dataset size, with the reasons.

    Rules follow StyleGAN2-ADA's "auto" configuration (Karras et al. 2020, appendix), scaled to the
    small style-based net ganvas trains on a CPU: R1 gamma = 0.0002 * resolution^2 / batch, R1 every 16
    D steps, EMA half-life batch * 10 / 32 kimg, Adam lr 0.0025 with betas (0, 0.99), and adaptive
    augmentation whose strength p follows D's overfitting, so one rule fits 50 images and 50,000.

    Up to 100 images (at 16 px and above) it picks the FastGAN-family model with DiffAugment instead,
    with the same optimiser, R1 and EMA rules: on 100 emoji it reached a lower KID than the style-based
    model with ADA in the same time, up to about half an hour (over two hours at 32 px the style-based
    model ended ahead; the README's quality section). A `model` the user chose
    (not "auto") gets its own settings: stylegan's above, or fastgan's at any size.
    """
    batch = 32 if num_images > 1000 else 16
    if resolution <= 64:
        width, max_width = 32, 256
    elif resolution <= 128:
        width, max_width = 16, 256
    else:
        width, max_width = 8, 256
    if num_images <= 100:
        max_width, size = min(max_width, 128), "at most 100 images"
    elif num_images <= 1000:
        size = "at most 1,000 images"
    elif num_images <= 10000:
        size = "at most 10,000 images"
    else:
        size = "over 10,000 images"
    gamma = round(0.0002 * resolution ** 2 / batch, 4)
    # Small sets are trained for fewer images and overfit sooner: let p react within tens of kimg.
    ada_kimg = 100.0 if num_images > 1000 else 20.0
    ema = round(batch * 10 / 32, 3)
    settings: dict[str, Any] = {
        "model.name": "stylegan", "model.width": width, "model.max_width": max_width, "model.z_dim": 128,
        "model.w_dim": min(256, max_width), "model.map_layers": 2, "model.noise": resolution > 64,
        "loss.name": "nonsat",
        "loss.r1_gamma": gamma, "loss.r1_interval": 16, "aug.name": "ada", "aug.ada_kimg": ada_kimg,
        "aug.ada_p": -1.0, "train.batch": batch,
        "train.ema_kimg": ema, "optim.G.lr": 0.0025, "optim.D.lr": 0.0025,
        "optim.G.betas": (0.0, 0.99), "optim.D.betas": (0.0, 0.99),
    }
    tiny = model == "fastgan" or (model in (None, "auto") and num_images <= 100 and resolution >= 16)
    if tiny:  # FastGAN: no mapping network, noise inputs or ADA; DiffAugment's fixed policy instead
        settings.update({"model.name": "fastgan", "aug.name": "diffaugment"})
        for key in ("model.w_dim", "model.map_layers", "model.noise", "aug.ada_kimg", "aug.ada_p"):
            settings.pop(key)
    reasons = [
        ("model fastgan" + ("" if model == "fastgan" else " (a light few-shot GAN: it beats the style-based one "
                            "on sets this small in runs of up to about half an hour; --model stylegan for "
                            "longer runs, style mixing and w-space truncation)")
         if tiny else "model stylegan")
        + f", channels {width} at {resolution} px doubling to at most {max_width}"
        + (" (narrow: few images to learn from)" if num_images <= 100 else ""),
        f"batch {batch} for {num_images} images ({size})",
    ]
    if not tiny:
        reasons.append("noise inputs " + ("on (stochastic detail)" if resolution > 64 else
                                          "off: at 64 px and below G paints speckle with them instead of shapes"))
    reasons.append(f"R1 gamma {gamma:g} every 16 D steps (0.0002 * {resolution}^2 / {batch})")
    reasons.append("DiffAugment (colour, translation, cutout) on every image D sees" if tiny else
                   f"adaptive augmentation (ADA, target 0.6): strength follows D's overfitting, by at most 1 per "
                   f"{ada_kimg:g} kimg")
    reasons.append(f"generator EMA half-life {ema:g} kimg; Adam lr 0.0025, betas (0, 0.99)")
    return settings, reasons


# A loss may recommend settings; they apply unless the user set the same key.
LOSS_RECOMMENDS: dict[str, dict[str, Any]] = {
    "wgan-gp": {"train.n_critic": 5, "optim.G.betas": (0.0, 0.9), "optim.D.betas": (0.0, 0.9),
                "optim.G.lr": 1e-4, "optim.D.lr": 1e-4},
}


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def all_keys(cfg: RunConfig | None = None) -> list[str]:
    return sorted(flatten((cfg or RunConfig()).to_dict()))


def _field_type(obj: Any, name: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    return hints[name]


def _coerce(value: Any, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(str(value).replace("_", "")) if isinstance(value, str) else int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
            if out != out or out in (float("inf"), float("-inf")):
                raise ValueError
            return out
        if typ is str:
            return str(value)
        if origin is tuple:
            items = value
            if isinstance(value, str):
                items = [p for p in value.strip("()[] ").split(",") if p.strip()]
            args = typing.get_args(typ)
            items = list(items)
            if len(items) != len(args):
                raise ValueError
            return tuple(_coerce(v, t, key) for v, t in zip(items, args))
        if origin in (typing.Union, types.UnionType):
            raise ValueError
    except (TypeError, ValueError):
        pass
    else:
        raise ConfigError(f"cannot set {key}: unsupported type {typ}")
    tname = getattr(typ, "__name__", str(typ))
    if origin is tuple:
        tname = "a pair like 0.5,0.999"
    raise ConfigError(f"cannot set {key}={value!r}: expected {tname}")


def set_value(cfg: RunConfig, key: str, value: Any, strict: bool = True) -> None:
    """Set a dotted key (e.g. 'optim.G.lr') with type checking; unknown keys list close matches."""
    parts = key.split(".")
    obj: Any = cfg
    for i, p in enumerate(parts):
        if not dataclasses.is_dataclass(obj) or p not in {f.name for f in dataclasses.fields(obj)}:
            if not strict:
                return
            near = difflib.get_close_matches(key, all_keys(cfg), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            raise ConfigError(f"unknown config key {key!r}{hint} (`ganvas train --dry-run` prints every key)")
        if i == len(parts) - 1:
            if dataclasses.is_dataclass(getattr(obj, p)):
                raise ConfigError(f"{key!r} is a section; set one of its fields, e.g. {key}.lr")
            setattr(obj, p, _coerce(value, _field_type(obj, p), key))
        else:
            obj = getattr(obj, p)


def get_value(cfg: RunConfig, key: str) -> Any:
    obj: Any = cfg
    for p in key.split("."):
        obj = getattr(obj, p)
    return obj


def set_flag(key: str, value: Any) -> str:
    """The `--set key=value` argument that gives `key` the config value `value`, shell-quoted if needed."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (tuple, list)):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    return "--set " + shlex.quote(f"{key}={text}")


def parse_set(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`--set key=value` strings -> dict, with a clear error for malformed ones."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r} (e.g. --set train.batch=32)")
        k, v = item.split("=", 1)
        if not k.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[k.strip()] = v.strip()
    return out


def build_config(preset: str = "default", overrides: dict[str, Any] | None = None,
                 num_images: int | None = None) -> RunConfig:
    """Defaults -> preset -> loss recommendations -> explicit overrides, then validation.

    The `auto` preset needs `num_images` (the dataset size); see `auto_preset`.
    """
    if preset not in PRESETS and preset != "auto":
        raise ConfigError(f"unknown preset {preset!r}; choose one of: {', '.join(sorted([*PRESETS, 'auto']))}")
    overrides = dict(overrides or {})
    cfg = RunConfig()
    if preset == "auto":
        if num_images is None:
            raise ConfigError("the auto preset needs the dataset size (num_images)")
        resolution = int(overrides.get("data.resolution", cfg.data.resolution))
        preset_values = auto_preset(resolution, num_images, overrides.get("model.name"))[0]
    else:
        preset_values = PRESETS[preset]
    for k, v in preset_values.items():
        set_value(cfg, k, v)
    for k, v in overrides.items():  # first pass: learn the loss (and catch unknown keys early)
        set_value(cfg, k, v)
    for k, v in LOSS_RECOMMENDS.get(cfg.loss.name, {}).items():
        if k not in overrides:
            set_value(cfg, k, v)
    validate(cfg)
    return cfg


def validate(cfg: RunConfig) -> None:
    d, m, t = cfg.data, cfg.model, cfg.train
    if d.fit not in ("crop", "pad", "stretch"):
        raise ConfigError(f"data.fit={d.fit!r}: choose crop, pad or stretch")
    if d.labels not in ("none", "subdirs"):
        raise ConfigError(f"data.labels={d.labels!r}: choose none or subdirs")
    if d.resolution < 8 or d.resolution > 1024 or d.resolution & (d.resolution - 1):
        raise ConfigError(f"resolution {d.resolution} is not supported: use a power of two from 8 to 1024")
    if m.g_norm not in ("batch", "pixel", "none"):
        raise ConfigError(f"model.g_norm={m.g_norm!r}: choose batch, pixel or none")
    if m.point_scale < 0:
        raise ConfigError(f"model.point_scale must be 0 (auto) or positive, got {m.point_scale}")
    if m.resample not in ("torch", "conv"):
        raise ConfigError(f"model.resample={m.resample!r}: choose torch or conv")
    if m.d_norm not in ("auto", "batch", "layer", "spectral", "none"):
        raise ConfigError(f"model.d_norm={m.d_norm!r}: choose auto, batch, layer, spectral or none")
    for name, v in (("model.z_dim", m.z_dim), ("model.width", m.width), ("model.max_width", m.max_width),
                    ("model.hidden", m.hidden), ("model.depth", m.depth), ("train.batch", t.batch),
                    ("train.n_critic", t.n_critic), ("train.grid_size", t.grid_size),
                    ("train.keep_checkpoints", t.keep_checkpoints)):
        if v < 1:
            raise ConfigError(f"{name} must be at least 1, got {v}")
    for name, v in (("train.kimg", t.kimg), ("train.checkpoint_kimg", t.checkpoint_kimg),
                    ("train.snapshot_kimg", t.snapshot_kimg), ("train.log_kimg", t.log_kimg),
                    ("train.ema_kimg", t.ema_kimg)):
        if v <= 0:
            raise ConfigError(f"{name} must be positive, got {v:g}")
    if not 0 < cfg.aug.ada_target < 1 or cfg.aug.ada_kimg <= 0:
        raise ConfigError("aug.ada_target must be in (0, 1) and aug.ada_kimg positive")
    if cfg.aug.ada_p != -1.0 and not 0.0 <= cfg.aug.ada_p <= 1.0:
        raise ConfigError(f"aug.ada_p={cfg.aug.ada_p:g}: a fixed augmentation probability lies in [0, 1]; "
                          f"-1 (the default) lets ADA's controller choose it")
    if cfg.aug.ada_p != -1.0 and cfg.aug.name != "ada":
        raise ConfigError(f"aug.ada_p fixes the probability of ADA's ops, but the augmentation is "
                          f"{cfg.aug.name!r}; add --aug ada")
    if cfg.loss.creative_weight < 0:
        raise ConfigError("loss.creative_weight must be 0 (off) or positive")
    if cfg.loss.creative_weight > 0 and d.labels == "none":
        raise ConfigError("--creative learns from the styles it must avoid, so it needs labelled images: "
                          "--labels subdirs (one subfolder per style; the emoji set has 8 categories)")
    if t.compile_mode not in ("default", "reduce-overhead", "max-autotune"):
        raise ConfigError(f"train.compile_mode={t.compile_mode!r}: choose default, reduce-overhead or max-autotune")
    if t.minutes < 0:
        raise ConfigError(f"train.minutes must be 0 (no limit) or positive, got {t.minutes:g}")
    if t.freeze_d < 0:
        raise ConfigError(f"train.freeze_d must be 0 or more, got {t.freeze_d}")
    if t.batch_gpu < 0:
        raise ConfigError(f"train.batch_gpu must be 0 (automatic) or positive, got {t.batch_gpu}")
    if cfg.loss.r1_interval < 1:
        raise ConfigError(f"loss.r1_interval must be at least 1, got {cfg.loss.r1_interval}")
    if t.epochs < 0 or t.ema_rampup < 0 or t.threads < 0:
        raise ConfigError("train.epochs, train.ema_rampup and train.threads cannot be negative")
    if t.precision not in PRECISIONS:
        raise ConfigError(f"train.precision={t.precision!r}: choose {', '.join(PRECISIONS)}")
    if t.metrics_kimg < 0 or t.metrics_num < 2:
        raise ConfigError("train.metrics_kimg cannot be negative and train.metrics_num must be at least 2")
    if t.metrics and d.source in POINT_SOURCES:
        raise ConfigError(f"image metrics do not apply to {d.source}; use `ganvas bench modes` for 2-D sets")
    if cfg.loss.r1_gamma < 0 or cfg.loss.gp_weight < 0:
        raise ConfigError("loss.r1_gamma and loss.gp_weight cannot be negative")
    if t.max_bad_steps < 1:
        raise ConfigError("train.max_bad_steps must be at least 1")
    for net in ("G", "D"):
        a: AdamConfig = getattr(cfg.optim, net)
        if a.lr <= 0 or not all(0 <= b < 1 for b in a.betas):
            raise ConfigError(f"optim.{net}: lr must be positive and betas in [0, 1)")
    if d.source in POINT_SOURCES and cfg.aug.name != "none":
        raise ConfigError(f"{d.source} is 2-D point data; image augmentation (--aug) does not apply")
    if d.source in POINT_SOURCES and t.epochs:
        raise ConfigError(f"{d.source} is an endless 2-D distribution: give the duration with --kimg, not epochs")


def is_points(cfg: RunConfig) -> bool:
    return cfg.data.source in POINT_SOURCES
