"""Adaptive discriminator augmentation (Karras et al. 2020, "Training GANs with Limited Data", "ADA").

Like DiffAugment, D sees T(x) for real and generated images alike and G learns through T. ADA differs in
two ways:

1. Every op is applied to each image independently with probability p (Karras et al. 2020, sec. 2.2).
   As long as p < 1 the augmented distribution still determines the clean one ("non-leaking"), so even
   strong ops such as 90-degree rotations or a luma flip do not show up in G's outputs.
2. p is tuned during training by a controller watching D's overfitting heuristic
   r_t = E[sign(D(real))] (sec. 3, eq. 1): p rises while r_t exceeds a target (0.6) and falls otherwise.

The pipeline is ADA's "bgc": pixel blitting (x-flip, 90-degree rotations, integer translation), general
geometric transforms (isotropic scaling, arbitrary rotation, anisotropic scaling, fractional translation)
and colour transforms (brightness, contrast, luma flip, hue rotation, saturation), with the paper's
distributions (its appendix B). All geometric ops compose into one 3x3 homogeneous matrix per image,
applied by a single bilinear `grid_sample` with reflection padding; all colour ops compose into one 4x4
matrix per image. Unlike the reference implementation, the geometric warp does not upsample 2x with a
wavelet low-pass filter before resampling and downsample after: plain bilinear resampling aliases a little
on rotations and scalings, which D sees on real and generated images alike.

Every random number comes from the `torch.Generator` passed in (STYLE: randomness), is drawn on that
generator's device (the CPU one in ganvas) and moved to the images' device, so an augmentation depends
only on (generator state, batch size, policy, p) and not on where the images live. The number of draws
does not depend on p either, except that p == 0 returns the input untouched without drawing.
"""

from __future__ import annotations

import inspect
import math
import warnings
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from ganvas.augment.diffaugment import AUGMENTS, DiffAugment
from ganvas.errors import ConfigError

Tensor = torch.Tensor

# The ops in the order the pipeline applies them (Karras et al. 2020, appendix B); a policy only switches
# ops on or off, it never reorders them.
BLIT_OPS = ("xflip", "rotate90", "xint")
GEOM_OPS = ("scale", "rotate", "aniso", "xfrac")
COLOR_OPS = ("brightness", "contrast", "lumaflip", "hue", "saturation")
ALL_OPS = BLIT_OPS + GEOM_OPS + COLOR_OPS
POLICY_GROUPS: dict[str, tuple[str, ...]] = {
    "bgc": ALL_OPS, "bg": BLIT_OPS + GEOM_OPS, "blit": BLIT_OPS, "geom": GEOM_OPS, "color": COLOR_OPS,
}

# Strengths of ADA's "bgc" pipeline. Scales are log-normal: s = 2^(N(0, 1) * std), i.e. ln s ~ N(0, (std ln 2)^2).
XINT_MAX = 0.125  # integer translation: uniform in +-0.125 of the image size, rounded to whole pixels
SCALE_STD = 0.2  # isotropic scaling, log2 std
ROTATE_MAX = 1.0  # arbitrary rotation: uniform in +-ROTATE_MAX * 180 degrees
ANISO_STD = 0.2  # anisotropic scaling, log2 std
XFRAC_STD = 0.125  # fractional translation: N(0, 0.125^2) of the image size
BRIGHTNESS_STD = 0.2  # additive, in [-1, 1] pixel units
CONTRAST_STD = 0.5  # log2 std
HUE_MAX = 1.0  # hue rotation: uniform in +-HUE_MAX * 180 degrees about the luma axis
SATURATION_STD = 1.0  # log2 std

_LUMA = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64) / math.sqrt(3)  # luma axis in homogeneous RGB


def parse_ada_policy(policy: str) -> tuple[str, ...]:
    """The ops a comma list of group names ("bgc", "bg", "blit", "geom", "color") and op names enables,
    in pipeline order.

    >>> parse_ada_policy("color, xflip")
    ('xflip', 'brightness', 'contrast', 'lumaflip', 'hue', 'saturation')
    """
    names = [p.strip() for p in policy.split(",") if p.strip()]
    valid = ", ".join([*POLICY_GROUPS, *ALL_OPS])
    if not names:
        raise ConfigError(f"ADA policy {policy!r} selects no ops; choose from: {valid}")
    enabled: set[str] = set()
    for name in names:
        if name in POLICY_GROUPS:
            enabled.update(POLICY_GROUPS[name])
        elif name in ALL_OPS:
            enabled.add(name)
        else:
            raise ConfigError(f"unknown ADA op {name!r}; choose from: {valid}")
    return tuple(op for op in ALL_OPS if op in enabled)


# ----------------------------------------------------------------------------------------------------
# Homogeneous matrices, float64 on the CPU, one per image.


def _eye(n: int, k: int) -> Tensor:
    return torch.eye(k, dtype=torch.float64).repeat(n, 1, 1)  # [n, k, k]


def _mat2d(a: Tensor, b: Tensor, tx: Tensor, c: Tensor, d: Tensor, ty: Tensor) -> Tensor:
    """[[a, b, tx], [c, d, ty], [0, 0, 1]] per image from [n] tensors."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([a, b, tx, c, d, ty, zero, zero, one], dim=1).reshape(-1, 3, 3)  # [n, 3, 3]


def _scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    zero = torch.zeros_like(sx)
    return _mat2d(sx, zero, zero, zero, sy, zero)


def _translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    zero, one = torch.zeros_like(tx), torch.ones_like(tx)
    return _mat2d(one, zero, tx, zero, one, ty)


def _rotate2d(cos: Tensor, sin: Tensor) -> Tensor:
    zero = torch.zeros_like(cos)
    return _mat2d(cos, -sin, zero, sin, cos, zero)


def _rotate3d_luma(theta: Tensor) -> Tensor:
    """Rotation by theta about the luma axis v, as 4x4 (Rodrigues: cos I + sin [v]x + (1 - cos) v v^T)."""
    v = _LUMA[:3]
    cross = torch.tensor([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]], dtype=torch.float64)
    cos, sin = theta.cos()[:, None, None], theta.sin()[:, None, None]
    r3 = cos * torch.eye(3, dtype=torch.float64) + sin * cross + (1 - cos) * torch.outer(v, v)  # [n, 3, 3]
    out = _eye(len(theta), 4)
    out[:, :3, :3] = r3
    return out  # [n, 4, 4]


# grid_sample's codes for bilinear interpolation and reflection padding (aten::grid_sampler_2d's arguments).
_BILINEAR, _REFLECTION = 0, 2


class _Resample(torch.autograd.Function):
    """grid_sample(x, grid) (bilinear, reflection, align_corners=False) for a constant grid, differentiable
    twice in x on every device.

    R1 takes the gradient of D(T(x)) with respect to the real images x and then differentiates that gradient,
    so the warp needs a double backward. PyTorch's CUDA grid_sample has none ("derivative for
    aten::grid_sampler_2d_backward is not implemented"). For a fixed grid the warp is linear in x, y = A x,
    so its backward is the adjoint, g -> A^T g, and the backward of that is A again: the forward warp.
    """

    @staticmethod
    def forward(ctx, x: Tensor, grid: Tensor) -> Tensor:
        ctx.save_for_backward(x, grid)  # what grid_sample's own backward keeps too
        return torch.grid_sampler(x, grid, _BILINEAR, _REFLECTION, False)

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor, None]:
        x, grid = ctx.saved_tensors
        return _ResampleAdjoint.apply(grad_out, grid, x.detach()), None


class _ResampleAdjoint(torch.autograd.Function):
    """A^T g: the warp's backward, itself differentiable (its backward is the forward warp)."""

    @staticmethod
    def forward(ctx, grad_out: Tensor, grid: Tensor, x: Tensor) -> Tensor:
        ctx.save_for_backward(grid)
        # x gives the input's shape and layout; with the grid's gradient not asked for, its values are not read.
        grad_x, _ = torch.ops.aten.grid_sampler_2d_backward(grad_out, x, grid, _BILINEAR, _REFLECTION, False,
                                                            [True, False])
        return grad_x

    @staticmethod
    def backward(ctx, grad_grad_x: Tensor) -> tuple[Tensor, None, None]:
        (grid,) = ctx.saved_tensors
        return _Resample.apply(grad_grad_x, grid), None, None


def resample(x: Tensor, grid: Tensor) -> Tensor:
    """Bilinear resampling of x [N, C, H, W] at a constant grid [N, H', W', 2] (normalised coordinates,
    align_corners=False) with reflection padding; twice differentiable in x on CPU and CUDA."""
    return _Resample.apply(x, grid.detach())


def _where(applied: Tensor, m: Tensor) -> Tensor:
    """m for images the op applies to, the exact identity for the others."""
    return torch.where(applied[:, None, None], m, torch.eye(m.shape[-1], dtype=m.dtype))


class AdaptiveAugment:
    """ADA's augmentation pipeline T(x) with probability `p` per op per image, and its p controller.

    Call it like DiffAugment: `aug(x, gen)` with x float [-1, 1] of shape [N, C, H, W] (C = 3, or 1 for
    greyscale; geometry-only policies take any C), on any device, contiguous or channels_last (kept).
    Differentiable in x. The training loop owns p's schedule through `adjust`, every few steps:

    >>> aug = AdaptiveAugment("bgc", speed_kimg=500)
    >>> x = torch.zeros(4, 3, 16, 16)
    >>> aug(x, torch.Generator().manual_seed(0)) is x  # p starts at 0: nothing to do
    True
    >>> round(aug.adjust(rt=0.9, n_images=2000), 6)  # D overfits (r_t > 0.6): p += 2000 / 500 kimg
    0.004
    >>> aug(x, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 3, 16, 16])

    Args:
        policy: comma list of op groups ("bgc" = all, "bg", "blit", "geom", "color") or single ops
            (see `ALL_OPS`).
        p: initial augmentation probability (ADA starts at 0).
        target: the r_t the controller steers towards (0.6 in the paper).
        speed_kimg: how fast p moves: by at most 1 per `speed_kimg` thousand images (ADA's "ada_kimg", 500).
        max_p: the controller's ceiling. At p = 1 an x-flip or a 90-degree rotation happens with the same
            probability as its absence, D can no longer tell the clean distribution from the transformed
            one, and the augmentations may leak into G; the ceiling keeps p < 1 (Karras et al. 2020, sec. 2.2).
        fixed: keep p where it is: `adjust` only reports it, and a saved state's p does not replace it
            (StyleGAN2-ADA's `--aug fixed`; the way to study leaks at a chosen p, up to 1).
    """

    def __init__(self, policy: str = "bgc", p: float = 0.0, target: float = 0.6, speed_kimg: float = 500.0,
                 max_p: float = 0.99, fixed: bool = False):
        self.policy = policy
        self.ops = parse_ada_policy(policy)
        if not 0.0 < target < 1.0:
            raise ConfigError(f"ADA target must lie in (0, 1) (it is a mean of sign(D(real))), got {target}")
        if not speed_kimg > 0:
            raise ConfigError(f"ADA speed_kimg must be positive, got {speed_kimg}")
        if not 0.0 < max_p < 1.0:
            raise ConfigError(f"ADA max_p must lie in (0, 1), got {max_p}")
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"ADA p must lie in [0, 1], got {p}")
        self.p = float(p)
        self.target = float(target)
        self.speed_kimg = float(speed_kimg)
        self.max_p = float(max_p)
        self.fixed = bool(fixed)

    def __repr__(self) -> str:
        if self.fixed:
            return f"AdaptiveAugment(policy={self.policy!r}, p={self.p:.4f}, fixed=True)"
        return (f"AdaptiveAugment(policy={self.policy!r}, p={self.p:.4f}, target={self.target}, "
                f"speed_kimg={self.speed_kimg})")

    # ------------------------------------------------------------------------------------------------
    # Controller.

    def adjust(self, rt: float, n_images: int) -> float:
        """Move p after `n_images` real images whose mean sign(D(real)) was `rt`; returns the new p.

        Karras et al. 2020, sec. 3: p <- p + sign(r_t - target) * n_images / (speed_kimg * 1000), clamped
        to [0, max_p]. Pass the images seen since the previous call (ADA adjusts every 4 steps), so the
        speed in images does not depend on the batch size or the interval.
        """
        if not -1.0 <= rt <= 1.0:
            raise ValueError(f"r_t is a mean of signs and must lie in [-1, 1], got {rt}")
        if n_images < 0:
            raise ValueError(f"n_images must be >= 0, got {n_images}")
        if self.fixed:
            return self.p
        step = n_images / (self.speed_kimg * 1000.0)
        direction = (rt > self.target) - (rt < self.target)  # sign(r_t - target)
        self.p = min(max(self.p + direction * step, 0.0), self.max_p)
        return self.p

    def state_dict(self) -> dict[str, float]:
        """Plain floats, safe for a `weights_only` checkpoint: p, and target / speed_kimg to check on resume."""
        return {"p": float(self.p), "target": float(self.target), "speed_kimg": float(self.speed_kimg)}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore p, unless p is fixed (the current config's p wins then). A target or speed that differs
        from this object's keeps this object's (the current config wins) with a warning."""
        if "p" not in state:
            raise ValueError(f"ADA state has no 'p' (keys: {sorted(state)})")
        p = float(state["p"])
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"ADA state has p = {p}, outside [0, 1]")
        for key in ("target", "speed_kimg"):
            if key in state and float(state[key]) != getattr(self, key):
                warnings.warn(f"ADA {key} was {float(state[key])} in the saved state and is {getattr(self, key)} "
                              f"now; continuing with {getattr(self, key)}", stacklevel=2)
        if not self.fixed:
            self.p = p

    # ------------------------------------------------------------------------------------------------
    # Augmentation.

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        """T(x): the enabled ops, each applied to each image with probability p (rotations: see `_geometry`)."""
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"ADA p must lie in [0, 1], got {self.p}")
        if self.p == 0.0:
            return x
        if x.ndim != 4:
            raise ValueError(f"ADA expects images [N, C, H, W], got shape {tuple(x.shape)}")
        n, c, h, w = x.shape
        has_color = any(op in COLOR_OPS for op in self.ops)
        if has_color and c not in (1, 3):
            raise ValueError(f"ADA colour ops need RGB or greyscale images, got {c} channels")
        channels_last = x.is_contiguous(memory_format=torch.channels_last)

        G = self._geometry(n, h, w, gen)  # [n, 3, 3] output pixel -> input pixel
        C = self._color(n, gen) if has_color else _eye(n, 4)  # [n, 4, 4] input RGB1 -> output RGB1

        # The warps run in float32 with autocast off: bf16 grid coordinates or colour matrices would shift
        # pixels visibly, and the images are small compared to D.
        off = torch.autocast(x.device.type, enabled=False) if x.device.type in ("cpu", "cuda") else nullcontext()
        with off:
            y = x if x.dtype in (torch.float32, torch.float64) else x.float()
            y = self._warp(y, G)
            y = self._recolor(y, C)
        y = y.to(x.dtype)
        return y.contiguous(memory_format=torch.channels_last) if channels_last else y

    def _uniform(self, gen: torch.Generator, *shape: int) -> Tensor:
        return torch.rand(shape, generator=gen, device=gen.device, dtype=torch.float64).cpu()

    def _normal(self, gen: torch.Generator, *shape: int) -> Tensor:
        return torch.randn(shape, generator=gen, device=gen.device, dtype=torch.float64).cpu()

    def _applied(self, gen: torch.Generator, n: int, prob: float) -> Tensor:
        return self._uniform(gen, n) < prob  # [n] bool

    def _geometry(self, n: int, h: int, w: int, gen: torch.Generator) -> Tensor:
        """Compose the inverse geometric transform per image, G: output pixel -> input pixel  # [n, 3, 3].

        Pixel coordinates are centred on the image. Each op with forward transform T contributes T^-1 on
        the right (G = T1^-1 T2^-1 ..., so the forward transform is ... T2 T1). The two arbitrary rotations
        (before and after anisotropic scaling) each happen with probability 1 - sqrt(1 - p), so that some
        rotation happens with probability p, as in the paper.
        """
        G = _eye(n, 3)
        p = self.p
        if "xflip" in self.ops:  # applied with p; then flip or not, 50/50
            flip = torch.floor(self._uniform(gen, n) * 2)
            G = G @ _where(self._applied(gen, n, p), _scale2d(1 - 2 * flip, torch.ones(n, dtype=torch.float64)))
        if "rotate90" in self.ops:  # applied with p; then 0, 90, 180 or 270 degrees
            k = torch.floor(self._uniform(gen, n) * 4).long()
            cos = torch.tensor([1.0, 0.0, -1.0, 0.0], dtype=torch.float64)[k]  # exact: no pi rounding
            sin = torch.tensor([0.0, 1.0, 0.0, -1.0], dtype=torch.float64)[k]
            G = G @ _where(self._applied(gen, n, p), _rotate2d(cos, -sin))
        if "xint" in self.ops:  # shift by a whole number of pixels, up to XINT_MAX of the size
            t = (self._uniform(gen, n, 2) * 2 - 1) * XINT_MAX  # [n, 2]
            shift = _translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h))
            G = G @ _where(self._applied(gen, n, p), shift)
        if "scale" in self.ops:
            s = torch.exp2(self._normal(gen, n) * SCALE_STD)
            G = G @ _where(self._applied(gen, n, p), _scale2d(1 / s, 1 / s))
        p_rot = 1 - math.sqrt(max(1 - p, 0.0))  # P(pre or post rotation) = 1 - (1 - p_rot)^2 = p
        if "rotate" in self.ops:
            theta = (self._uniform(gen, n) * 2 - 1) * math.pi * ROTATE_MAX
            G = G @ _where(self._applied(gen, n, p_rot), _rotate2d(theta.cos(), -theta.sin()))
        if "aniso" in self.ops:
            s = torch.exp2(self._normal(gen, n) * ANISO_STD)
            G = G @ _where(self._applied(gen, n, p), _scale2d(1 / s, s))
        if "rotate" in self.ops:
            theta = (self._uniform(gen, n) * 2 - 1) * math.pi * ROTATE_MAX
            G = G @ _where(self._applied(gen, n, p_rot), _rotate2d(theta.cos(), -theta.sin()))
        if "xfrac" in self.ops:
            t = self._normal(gen, n, 2) * XFRAC_STD  # [n, 2]
            G = G @ _where(self._applied(gen, n, p), _translate2d(-t[:, 0] * w, -t[:, 1] * h))
        return G

    def _color(self, n: int, gen: torch.Generator) -> Tensor:
        """Compose the colour transform per image, C: input (r, g, b, 1) -> output  # [n, 4, 4].

        Colours are in [-1, 1], so contrast and saturation scale about mid-grey, and luma flip and hue
        rotation act about the grey axis v = (1, 1, 1) / sqrt(3) through it.
        """
        C = _eye(n, 4)
        vv = torch.outer(_LUMA, _LUMA)  # [4, 4] projection onto the luma axis
        p = self.p
        if "brightness" in self.ops:  # add b to every channel
            b = self._normal(gen, n) * BRIGHTNESS_STD
            m = _eye(n, 4)
            m[:, :3, 3] = b[:, None]
            C = _where(self._applied(gen, n, p), m) @ C
        if "contrast" in self.ops:  # scale every channel by c
            c = torch.exp2(self._normal(gen, n) * CONTRAST_STD)
            m = _eye(n, 4)
            m[:, :3, :3] *= c[:, None, None]
            C = _where(self._applied(gen, n, p), m) @ C
        if "lumaflip" in self.ops:  # Householder reflection of the luma component, 50/50 when applied
            flip = torch.floor(self._uniform(gen, n) * 2)
            m = torch.eye(4, dtype=torch.float64) - 2 * vv * flip[:, None, None]
            C = _where(self._applied(gen, n, p), m) @ C
        if "hue" in self.ops:
            theta = (self._uniform(gen, n) * 2 - 1) * math.pi * HUE_MAX
            C = _where(self._applied(gen, n, p), _rotate3d_luma(theta)) @ C
        if "saturation" in self.ops:  # scale the chroma (the part orthogonal to v) by s
            s = torch.exp2(self._normal(gen, n) * SATURATION_STD)
            m = vv + (torch.eye(4, dtype=torch.float64) - vv) * s[:, None, None]
            C = _where(self._applied(gen, n, p), m) @ C
        return C

    @staticmethod
    def _warp(x: Tensor, G: Tensor) -> Tensor:
        """Resample x at G(output pixel) with bilinear interpolation and reflection padding.

        Images whose G is the identity are passed through exactly; the batch skips the resampling when
        all are.
        """
        n, _, h, w = x.shape
        identity = (G == torch.eye(3, dtype=G.dtype)).flatten(1).all(dim=1)  # [n]
        if bool(identity.all()):
            return x
        # Normalised coordinates (align_corners=False: -1 and 1 are the outer pixel edges) to centred
        # pixel coordinates and back.
        to_pixels = torch.diag(torch.tensor([w / 2, h / 2, 1.0], dtype=torch.float64))
        to_normalised = torch.diag(torch.tensor([2 / w, 2 / h, 1.0], dtype=torch.float64))
        theta = (to_normalised @ G @ to_pixels)[:, :2, :]  # [n, 2, 3]
        theta = theta.to(device=x.device, dtype=x.dtype, non_blocking=True)
        grid = F.affine_grid(theta, [n, x.shape[1], h, w], align_corners=False)  # [n, h, w, 2]
        out = resample(x, grid)  # F.grid_sample, with a double backward for R1 on CUDA
        return torch.where(identity.to(x.device, non_blocking=True)[:, None, None, None], x, out)

    @staticmethod
    def _recolor(x: Tensor, C: Tensor) -> Tensor:
        """Apply C to every pixel's (r, g, b, 1); greyscale images use the mean of C's RGB rows (as ADA)."""
        n, c, h, w = x.shape
        if bool((C == torch.eye(4, dtype=C.dtype)).all()):
            return x
        C = C.to(device=x.device, dtype=x.dtype, non_blocking=True)
        flat = x.reshape(n, c, h * w)  # [n, c, h*w]
        if c == 3:
            out = torch.baddbmm(C[:, :3, 3:], C[:, :3, :3], flat)  # [n, 3, h*w]
        else:
            rows = C[:, :3, :].mean(dim=1)  # [n, 4]
            out = flat * rows[:, :3].sum(dim=1)[:, None, None] + rows[:, 3][:, None, None]
        return out.reshape(n, c, h, w)


_DIFFAUGMENT_DEFAULT_POLICY = inspect.signature(DiffAugment.__init__).parameters["policy"].default


def build_ada(policy: str) -> AdaptiveAugment:
    """The "ada" registry factory. The config's augmentation policy defaults to DiffAugment's op list,
    which means "the default" here as well: ADA's "bgc"; any other string is an ADA policy."""
    normalise = lambda s: ",".join(part.strip() for part in s.split(",") if part.strip())  # noqa: E731
    if normalise(policy) == normalise(_DIFFAUGMENT_DEFAULT_POLICY):
        policy = "bgc"
    return AdaptiveAugment(policy)


AUGMENTS.register("ada", help="ADA: blit/geometric/colour ops with adaptive probability p (Karras et al. 2020)")(
    build_ada)
