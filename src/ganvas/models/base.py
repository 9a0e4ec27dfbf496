"""The contract every model pair keeps.

G(z [N, z_dim], c [N, c_dim] or None) -> float [N, *out_shape]; images are [N, 3, H, W] in [-1, 1].
D(x, c) -> raw logits [N], real scores positive (no sigmoid).
A generator records its constructor arguments in `init_kwargs`, so an export is weights + JSON and a
model is rebuilt from the registry, never from pickled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ganvas.errors import ConfigError


class Resizable:
    """What transfer learning to another resolution asks of a network (`--resume-from` with another
    `--resolution`)."""

    def state_at_my_resolution(self, theirs: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Another run's state dict of this model trained at another resolution, turned into a full state
        dict for this network, and the names of what this network adds (layers that keep their fresh
        values), for the log. Raises ValueError when this model's layers depend on the resolution in a
        way that cannot carry over."""
        raise ValueError("this model's layer shapes change with the resolution, so it cannot be transferred "
                         "to another one; the style-based model (--model stylegan) can")


class Generator(Resizable, nn.Module):
    z_dim: int
    c_dim: int
    out_shape: tuple[int, ...]

    def __init__(self, **init_kwargs: Any):
        super().__init__()
        self.init_kwargs = dict(init_kwargs)

    def check_inputs(self, z: torch.Tensor, c: torch.Tensor | None) -> None:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [N, {self.z_dim}], got {list(z.shape)}")
        if self.c_dim and (c is None or c.shape != (z.shape[0], self.c_dim)):
            raise ValueError(f"this generator is conditional: c must be [N, {self.c_dim}]")


class Discriminator(Resizable, nn.Module):
    # True when D scores every sample on its own (no batch norm, no minibatch statistics). The D step then
    # scores real and generated samples in one pass, which halves the per-call overhead of a small D.
    per_sample: bool = False

    def __init__(self, **init_kwargs: Any):
        super().__init__()
        self.init_kwargs = dict(init_kwargs)

    def style_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Creative mode's style classifier: float32 logits [N, style_classes] from D's last features."""
        head = getattr(self, "style_head", None)
        if head is None:
            raise ValueError("this discriminator has no style head (build it with style_classes > 0)")
        return head(features).float()

    def head_4x4(self, h: torch.Tensor, c: torch.Tensor | None, styles: bool = False):
        """The shared end of the conv discriminators (dcgan, fastgan) on their last map h [N, C4, 4, 4]:
        a 4x4 conv logit (`self.out`), plus a projection onto the embedded class (`self.embed`, Miyato &
        Koyama 2018) when conditional, plus the style head's logits when `styles` (creative mode)."""
        # The 4x4 convolution of a 4x4 map is one dot product per sample: as a matrix product (the same sums) a
        # CPU runs it 15x as fast forward, 4-5x with the backward, as the convolution kernels at this shape.
        w = self.out.weight  # [1, C4, 4, 4]
        if h.is_contiguous():
            flat_h, flat_w = h.flatten(1), w.flatten(1)
        else:  # channels_last: both flattened in (H, W, C) order, h without a copy
            flat_h, flat_w = h.permute(0, 2, 3, 1).reshape(len(h), -1), w.permute(0, 2, 3, 1).reshape(1, -1)
        bias = None if self.out.bias is None else self.out.bias.to(h.dtype)
        logits = torch.nn.functional.linear(flat_h, flat_w.to(h.dtype), bias).flatten()  # [N]
        if self.embed is not None:
            if c is None:
                raise ValueError(f"this discriminator is conditional: c must be [N, {self.c_dim}]")
            logits = logits + (self.embed(c.to(h.dtype)) * h.sum(dim=(2, 3))).sum(dim=1)
        if styles:
            return logits, self.style_logits(h.flatten(1))
        return logits

    def input_layers(self) -> list[nn.Module]:
        """D's layers in order from the image side (what Freeze-D counts); models refine this."""
        return list(self.children())

    def check_inputs(self, x: torch.Tensor, expected: tuple[int, ...]) -> None:
        if tuple(x.shape[1:]) != tuple(expected):
            raise ValueError(f"D expects inputs [N, {', '.join(map(str, expected))}], got {list(x.shape)}")


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about the data."""

    kind: str  # "image" | "points"
    resolution: int = 0
    channels: int = 3
    num_classes: int = 0  # classes G and D are conditioned on
    style_classes: int = 0  # creative mode: classes D's style head tells apart (G is not conditioned)
    extent: float = 1.0  # 2-D points: the largest |coordinate| of the data's mode centres


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # the data kind it trains on: "image" | "points"
    generator: type[Generator]
    discriminator: type[Discriminator]
    kwargs: Callable[[Any, DataInfo], tuple[dict, dict]]  # (ModelConfig, DataInfo) -> (G kwargs, D kwargs)
    help: str = ""

    def build(self, model_cfg: Any, info: DataInfo) -> tuple[Generator, Discriminator]:
        if info.kind != self.kind:
            raise ConfigError(f"model {self.name!r} trains on {self.kind} data, but the data is {info.kind}")
        g_kwargs, d_kwargs = self.kwargs(model_cfg, info)
        return self.generator(**g_kwargs), self.discriminator(**d_kwargs)


@torch.no_grad()
def synthesize(G: Generator, z: torch.Tensor, c: torch.Tensor | None = None, batch_size: int = 64,
               **g_kwargs: Any) -> torch.Tensor:
    """Run G in fixed-size chunks and return float outputs on the CPU [N, *out_shape].

    `g_kwargs` go to G's forward (e.g. truncation_psi for a style-based G).

    Chunking keeps memory flat for long seed lists; each row depends only on its own z (G is in eval
    mode, so no batch statistics), so results do not depend on `batch_size`.
    """
    device = next(G.parameters()).device
    outs = []
    for i in range(0, len(z), batch_size):
        zc = z[i : i + batch_size].to(device)
        cc = None if c is None else c[i : i + batch_size].to(device)
        outs.append(G(zc, cc, **g_kwargs).float().cpu())
    return torch.cat(outs).contiguous() if outs else torch.empty(0, *G.out_shape)  # NCHW whatever G's layout
