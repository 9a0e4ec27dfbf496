"""Model registry: `MODELS.get(name).build(model_cfg, data_info)` -> (G, D)."""

from __future__ import annotations

from ganvas.errors import ConfigError
from ganvas.models.base import DataInfo, Discriminator, Generator, ModelSpec
from ganvas.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganvas.models.fastgan import FastGANDiscriminator, FastGANGenerator
from ganvas.models.mlp import MLPDiscriminator, MLPGenerator
from ganvas.models.stylegan import StyleDiscriminator, StyleGenerator
from ganvas.registry import Registry

MODELS: Registry[ModelSpec] = Registry("model")


def _register(spec: ModelSpec) -> None:
    MODELS.register(spec.name, help=spec.help)(spec)


def _dcgan_kwargs(m, info: DataInfo) -> tuple[dict, dict]:
    d_norm = m.d_norm if m.d_norm != "auto" else "batch"
    common = dict(resolution=info.resolution, width=m.width, max_width=m.max_width, c_dim=info.num_classes,
                  channels=info.channels)
    return (dict(z_dim=m.z_dim, norm=m.g_norm, **common),
            dict(norm=d_norm, style_classes=info.style_classes, **common))


def _stylegan_kwargs(m, info: DataInfo) -> tuple[dict, dict]:
    common = dict(resolution=info.resolution, width=m.width, max_width=m.max_width, c_dim=info.num_classes,
                  channels=info.channels)
    return (dict(z_dim=m.z_dim, w_dim=m.w_dim, map_layers=m.map_layers, mixing_prob=m.style_mixing,
                 noise=m.noise, resample=m.resample, **common),
            dict(style_classes=info.style_classes, resample=m.resample, **common))


def _fastgan_kwargs(m, info: DataInfo) -> tuple[dict, dict]:
    common = dict(resolution=info.resolution, width=m.width, max_width=m.max_width, c_dim=info.num_classes,
                  channels=info.channels)
    return dict(z_dim=m.z_dim, **common), dict(style_classes=info.style_classes, **common)


def _mlp_kwargs(m, info: DataInfo) -> tuple[dict, dict]:
    common = dict(hidden=m.hidden, depth=m.depth, dims=2, c_dim=info.num_classes,
                  scale=float(m.point_scale or info.extent))
    return dict(z_dim=m.z_dim, **common), dict(common)


_register(ModelSpec("dcgan", "image", DCGANGenerator, DCGANDiscriminator, _dcgan_kwargs,
                    help="DCGAN-class CNN (Radford et al. 2016), 8-1024 px, configurable width"))
_register(ModelSpec("stylegan", "image", StyleGenerator, StyleDiscriminator, _stylegan_kwargs,
                    help="style-based G (StyleGAN2 family: mapping, modulated convs, noise, skips) + residual D"))
_register(ModelSpec("fastgan", "image", FastGANGenerator, FastGANDiscriminator, _fastgan_kwargs,
                    help="light few-shot GAN (FastGAN family): skip-layer excitation G, D with a reconstruction "
                         "decoder"))
_register(ModelSpec("mlp", "points", MLPGenerator, MLPDiscriminator, _mlp_kwargs,
                    help="MLP pair for 2-D point sets (ring8, grid25)"))


def resolve_model_name(name: str, data_kind: str) -> str:
    if name == "auto":
        return "dcgan" if data_kind == "image" else "mlp"
    spec = MODELS.get(name)
    if spec.kind != data_kind:
        raise ConfigError(f"model {name!r} trains on {spec.kind} data, but this dataset is {data_kind} data; "
                          f"try --model {'mlp' if data_kind == 'points' else 'dcgan'}")
    return name


def build_generator(name: str, kwargs: dict) -> Generator:
    """Rebuild a generator from its registered name and recorded `init_kwargs` (used by exports)."""
    return MODELS.get(name).generator(**kwargs)


__all__ = ["MODELS", "DataInfo", "Generator", "Discriminator", "ModelSpec", "resolve_model_name",
           "build_generator"]
