"""Augmentation leak check: do generated images show the augmentations D was trained on?

Augmenting D's inputs (DiffAugment, ADA) is safe only while the augmentation is invertible in
distribution; when it is not (ADA with p near 1, a policy with cutout or 90-degree rotations applied
always), G can match the augmented data by producing rotated, flipped or cut-out images itself
(Karras et al. 2020, "Training GANs with Limited Data", sec. 2.2 and fig. 3). This check looks for that
directly, with nearest neighbours in a feature space.

Method, for each transform T (rot90, rot180, vflip, hflip, cutout):

1. Split the real images at random into a reference half A and a held-out half B.
2. Leak rate L_T: the share of generated images that look transformed. For the geometric transforms:
   whose nearest neighbour (Euclidean distance in feature space) among A and T(A) lies in T(A) (rot90
   puts both 90 and 270 degrees into T(A)); ties count as A, so a symmetric image is never a leak.
   For cutout: which contain a flat mid-grey square (see below).
3. Baseline B_T: the same share for the held-out real images B, i.e. for a generator without leak. It
   absorbs everything that is not a leak: symmetries of the data, the 1 : k size ratio of A to T(A),
   and nuisance variation (colour, position) that decides many nearest neighbours regardless of T.
4. Control C_T: the same share for T(B) (one transformed copy of each held-out image, the variant
   chosen with the seed), i.e. for a generator that shows T on every image.
5. If a share q of the generated images shows T, L_T = (1 - q) B_T + q C_T in expectation, so
   q = (L_T - B_T) / (C_T - B_T) estimates the share of leaking images (clipped to [0, 1]).

T is flagged when
   - it is detectable: C_T - B_T >= min_contrast (0.2). Where the data is (nearly) invariant under T,
     e.g. hflip on left-right symmetric emoji, or the features cannot see T, a full leak would barely
     move the rate; such a T is reported as not detectable rather than guessed at. A leak of a symmetry
     of the data is harmless anyway (a flipped symmetric emoji is still an emoji).
   - the estimated share q >= min_fraction (0.2): about when a leak becomes obvious in a sample grid;
     smaller shifts are within what an imperfect (blurry, colour-biased) generator moves
     nearest-neighbour votes by.
   - the excess is significant: L_T - B_T > z * SE with z = 3 and SE the standard error of the
     difference of the two proportions, so few images do not flag on noise. Each proportion enters the
     standard error kept half a count away from 0 and 1: no hit among 10 images is not certainty.

Cutout is tested on pixels, not features. DiffAugment's cutout fills a square of half the image size
with 0 in [-1, 1], so a leaking generator paints flat mid-grey squares, often clipped by the border to
a quarter of the size. An image counts as cut out when some window of a quarter of the size is at least
90% pixels within +-16 of 128 in every channel. A feature-space test does not work here: cutout changes
an image's colour statistics, so a generator with washed-out colours lands next to cut-out references
without painting any square. (Rotations and flips only permute pixels and keep colour statistics.)
The cutout control squares sit at 5 fixed places: the centre and the centre of each quadrant. An image
that is more than half mid-grey overall does not count: that is a grey image (an untrained generator's
near-zero output looks so), not a cut-out one.

All feature queries (generated, B, T(B)) meet the same candidates, so the rates differ only through
the queries.

A generator far from the data everywhere (early training, blurry or blotchy samples) makes the
nearest-neighbour votes arbitrary: about 1/2 for a flip and 2/3 for rot90 (two rotated candidates per
image), which the estimate reads as a large leak. So each feature-space test also measures how far the
generated images are from the data: the distance ratio R_T = median NN distance of the generated
images to A and T(A), over the same median for the held-out real images B. A real leak keeps R_T near
that of real images (a rotated emoji is as near to a rotated reference as an emoji to an emoji); a
generator far from the data has R_T well above it. Where R_T > max_distance_ratio (1.2) the test is
reported as inconclusive, never as a leak. Measured on emoji (EfficientNet-Lite0 features): held-out
real images score 1 by construction, and CPU-budget generators of 100 to 1,600 images 1.18 to 1.45,
with votes as skewed as a full leak; hence the threshold of 1.2.

Nearness alone is not enough: a FastGAN trained 12 minutes with DiffAugment (which never rotates) sat
at R_T = 1.18 and its votes read as rot90, rot180 and vflip in ~100% of its images. What such samples
lack is orientation: rotated and upright references are about equally far from them, so each vote is
decided by a hair. So the check also measures how decisive the votes are: the vote margin
|log(d_T / d_A)| of each query (its distances to the nearest image of T(A) and of A), and the margin
ratio M_T = median margin of the generated images over the smaller of the medians of B and T(B) (a
clean generator votes like B, a leaking one like T(B)). Measured on emoji: 0.25 to 0.6 for every
CPU-budget generator above, including their outputs rotated on purpose (a 100% leak that the votes
barely registered). Where M_T < min_margin_ratio (0.75) the test is inconclusive as well.

Last, a verdict of "no leak" needs evidence that a leak would have shown. The check transforms the
generated images on purpose and measures how far that moves their vote rate, against how far it moves
real images' (from B to T(B)): the power ratio P_T = (L'_T - L_T) / (C_T - B_T), with L'_T the rate of
T(generated). If a share q of the generated images shows T already, transforming flips those back
(rotations by 180 degrees and flips undo themselves), so P_T shrinks by a factor 1 - 2q; for clean
images it measures how readable their orientation is. A transform with no flag is "ok" only where
P_T >= min_power_ratio (0.5); otherwise it is inconclusive. A flag needs no such evidence to be shown
(its rates moved already), but where |P_T| < min_power_ratio it is only a possible leak ("LEAK?", not
counted in `leaked`): samples whose orientation the features cannot see would vote the same way, and a
leak of about half the images barely moves under T either, so the two cannot be told apart by votes.
A DiffAugment FastGAN, which never sees a rotation, read as rot90 in ~43% of its images in pixel
features at P_T 0.31; a full leak moves its votes backwards (P_T near -1) and stays a LEAK.

Votes that turn back (P_T <= -min_power_ratio) are also what lets a leak through the distance and margin
gates: samples that vote "transformed" and "upright" once transformed on purpose show T's orientation
themselves, which samples without orientation cannot do (their votes barely move). So such a flag counts
even where R_T > 1.2 or M_T < 0.75, up to R_T <= max_turned_distance_ratio (2.0): a leak with drifted
colours sits farther from the data than a clean copy would, but a T that leaves the samples twice as far
from A and T(A) as real images are does not explain them. Measured on 100 synthetic scenes with an
unmistakable orientation (`benchmarks/oriented_scenes.py`), a style-based G trained with ADA at a fixed
p of 0.8 drew every scene turned by 90 degrees, with drifted colours: rot90 votes 1.00 against 0.00 for
held-out scenes, R_T 1.59, M_T 0.65, P_T -1.00, which the gates alone called inconclusive; rot180 and
hflip votes also turned back, at R_T 3.6, and stay inconclusive. No clean generator measured on emoji
(61 transform checks in `benchmarks/results/*leak*.json`) had P_T below -0.3.

Power to move the votes is not yet power to flag: with few held-out real images the baseline B_T is
itself uncertain, so a real leak can sit within chance. The smallest share the check could flag is
S_T = z * SE / (C_T - B_T), with SE the standard error of the flag's significance test at the observed
rates. An "ok" also needs S_T <= max_blind_share (0.3): a leak in 30% of the images would have been
flagged. Measured on a style-based ADA generator of 100 emoji checked against its 100 training images
(50 held out): S_T was about 0.6, and leaks injected on purpose into its own samples (25% and 50% of
them rotated by 90 degrees) were reported as "ok" and "inconclusive"; now the clean samples are
inconclusive too, with the reason (`benchmarks/leak_injection.py`).

Measured on emoji at 32 px in EfficientNet-Lite0 features, real images move 0.29 to 0.37; four
CPU-budget generators trained 12 to 40 minutes, including a no-augmentation one that copies its
training images, moved 0.08 or less, and a FastGAN trained two hours 0.08 to 0.14 (P_T 0.25 to 0.38).

Those figures are for EfficientNet-Lite0 features, which are made to name an object whatever its pose.
The same votes on plain pixels (`pixels`: the image averaged down to 16x16 RGB) read orientation from
layout, where the light, dark and coloured parts of an image sit, which a rotation moves even in a soft
sample. On the same emoji generators P_T in pixels was 0.5 to 0.8 for the clean ones (no augmentation,
or DiffAugment, which never rotates), so `ganvas leak` checks in both spaces and combines them
(`combine_leak_reports`): a flag in either counts (as a possible leak where its power is low), and an
"ok" from a space with the power to see a leak outweighs an "inconclusive" from one without.

>>> rng = np.random.default_rng(0)
>>> real = rng.integers(0, 256, (40, 3, 16, 16), dtype=np.uint8)
>>> report = leak_check(real, real[:10], "random-conv")
>>> sorted(report.transforms), report.leaked
(['cutout', 'hflip', 'rot180', 'rot90', 'vflip'], False)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ganvas.errors import GanvasError
from ganvas.metrics.features import FeatureExtractor, build_extractor, extract

Tensor = torch.Tensor

CUTOUT_FILL = 128  # mid-grey: DiffAugment's cutout writes 0 in [-1, 1], which is 127.5 in [0, 255]
CUTOUT_TOLERANCE = 16  # a generated square is not exactly flat: +-16 levels per channel count as grey
CUTOUT_COVER = 0.9  # share of grey pixels in a window that makes it a square
# An image more grey than this overall is a grey image, not one with a square cut out of it (a full
# square covers a quarter of the image): an untrained generator's near-zero output is mid-grey all over.
CUTOUT_MAX_GREY = 0.5


def _cutout_squares(x: Tensor) -> list[Tensor]:
    """A mid-grey square of half the height and width at the centre and at each quadrant's centre."""
    h, w = x.shape[-2:]
    ch, cw = h // 2, w // 2
    corners = [(h // 4, w // 4), (0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw)]
    out = []
    for y0, x0 in corners:
        y = x.clone()
        y[:, :, y0:y0 + ch, x0:x0 + cw] = CUTOUT_FILL
        out.append(y)
    return out


def _has_grey_square(x: Tensor) -> np.ndarray:
    """Whether each uint8 image [N, 3, H, W] holds a quarter-size window of (nearly) flat mid-grey, and is
    not mostly grey as a whole  # [N]."""
    h, w = x.shape[-2:]
    k = max(2, min(h, w) // 4)
    grey = ((x >= CUTOUT_FILL - CUTOUT_TOLERANCE) & (x <= CUTOUT_FILL + CUTOUT_TOLERANCE)).all(dim=1)  # [N, H, W]
    cover = F.avg_pool2d(grey[:, None].float(), k, stride=1)  # [N, 1, H-k+1, W-k+1]: grey share per window
    square = (cover.flatten(1) >= CUTOUT_COVER).any(dim=1)
    return (square & (grey.flatten(1).float().mean(dim=1) <= CUTOUT_MAX_GREY)).numpy()


# Name -> the transformed copies of uint8 images [N, 3, H, W] that stand for T(A) (T(B) for the control).
LEAK_TRANSFORMS: dict[str, Callable[[Tensor], list[Tensor]]] = {
    "rot90": lambda x: [x.rot90(1, dims=(2, 3)), x.rot90(3, dims=(2, 3))],  # either direction
    "rot180": lambda x: [x.rot90(2, dims=(2, 3))],
    "vflip": lambda x: [x.flip(2)],
    "hflip": lambda x: [x.flip(3)],
    "cutout": _cutout_squares,
}


@dataclass(frozen=True)
class TransformLeak:
    """The check's result for one transform T."""

    name: str
    rate: float  # L_T: fraction of generated images that look transformed (nearest to T(A); cutout: grey square)
    baseline: float  # B_T: the same fraction for held-out real images (no leak)
    control: float  # C_T: the same fraction for transformed held-out real images (leak on every image)
    fraction: float  # estimated share of generated images showing T, (L_T - B_T) / (C_T - B_T) in [0, 1]
    detectable: bool  # C_T - B_T >= min_contrast: a leak of T would show in these features and data
    flagged: bool  # detectable, R_T and M_T within limits, fraction >= min_fraction and L_T - B_T significant
    distance_ratio: float = 1.0  # R_T: how far generated images are from A and T(A), relative to held-out real
    conclusive: bool = True  # R_T and M_T within limits, and P_T too unless flagged: the verdict holds
    margin_ratio: float = 1.0  # M_T: how decisive the generated images' votes are, relative to held-out real
    power_ratio: float = 1.0  # P_T: how far transforming the generated images moves their rate, vs real images
    weak: bool = False  # flagged, but |P_T| < min_power_ratio: blind features would vote the same way
    min_share: float = 0.0  # S_T: the smallest share of leaking images the check could flag with these counts (<= 1)

    @property
    def state(self) -> str:
        """One word for reports: LEAK, LEAK? (a possible leak, see `weak`), ok, not detectable or
        inconclusive."""
        if self.flagged:
            return "LEAK?" if self.weak else "LEAK"
        if not self.detectable:
            return "not detectable"
        return "ok" if self.conclusive else "inconclusive"


@dataclass(frozen=True)
class LeakReport:
    """Per-transform results, the overall verdict and a one-line summary."""

    transforms: dict[str, TransformLeak]
    leaked: bool
    summary: str
    n_reference: int  # real images in A
    n_heldout: int  # real images in B
    n_gen: int
    skipped: tuple[str, ...] = ()  # transforms that do not apply (rot90 on non-square images)

    def to_dict(self) -> dict:
        """Plain Python values (for JSON)."""
        d = asdict(self)
        d["skipped"] = list(self.skipped)
        for name, t in self.transforms.items():
            d["transforms"][name]["state"] = t.state
        return d


def _as_uint8_tensor(images: np.ndarray | Tensor, what: str) -> Tensor:
    t = images if isinstance(images, torch.Tensor) else torch.tensor(np.asarray(images))  # a copy: may be read-only
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[1] != 3:
        raise GanvasError(f"leak check: {what} images must be uint8 [N, 3, H, W], got {t.dtype} {tuple(t.shape)}")
    return t.cpu()


def _min_sq_dist(queries: np.ndarray, candidates: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """For each query row, the squared Euclidean distance to its nearest candidate row  # [Q]."""
    c = torch.from_numpy(candidates)
    c_sq = c.square().sum(1)  # [K]
    out = []
    for i in range(0, len(queries), chunk):
        q = torch.from_numpy(queries[i:i + chunk])
        d = q.square().sum(1, keepdim=True) + c_sq[None, :] - 2 * q @ c.T  # [q, K]
        out.append(d.min(dim=1).values)
    return torch.cat(out).clamp_min(0).numpy() if out else np.zeros(0)


def _distance_ratio(d_query: np.ndarray, d_real: np.ndarray) -> float:
    """Median nearest-neighbour distance of the queries over that of held-out real images (from squared
    distances); 1 for samples as near to the data as real images, large for samples far from it."""
    typical_real = float(np.median(np.sqrt(d_real)))
    return float(np.median(np.sqrt(d_query))) / max(typical_real, 1e-12)


def _median_margin(d_a: np.ndarray, d_t: np.ndarray) -> float:
    """Median vote margin |log(d_T / d_A)| of queries, from squared distances to the nearest image of A
    and of T(A)."""
    eps = 1e-12 + 1e-6 * float(np.median(d_a))  # a duplicate of a reference image has distance 0
    return float(np.median(np.abs(np.log((d_t + eps) / (d_a + eps))))) / 2  # squared distances: half the log


def _diff_se(p1: float, n1: int, p2: float, n2: int) -> float:
    """Standard error of the difference of two proportions, each kept at least half a count away from 0 and
    1: no hit in 10 images is not certainty (it would give a standard error of 0)."""
    def var(p: float, n: int) -> float:
        p = min(max(p, 0.5 / n), 1 - 0.5 / n)
        return p * (1 - p) / n

    return math.sqrt(var(p1, n1) + var(p2, n2))


def leak_check(real: np.ndarray | Tensor, gen: np.ndarray | Tensor,
               extractor: FeatureExtractor | str = "effnet-lite0", *,
               transforms: Sequence[str] = tuple(LEAK_TRANSFORMS), min_contrast: float = 0.2,
               min_fraction: float = 0.2, z: float = 3.0, max_distance_ratio: float = 1.2,
               min_margin_ratio: float = 0.75, min_power_ratio: float = 0.5, max_blind_share: float = 0.3,
               max_turned_distance_ratio: float = 2.0, seed: int = 0, batch_size: int = 64,
               device: str | torch.device = "cpu", progress: bool = False) -> LeakReport:
    """Check whether generated images show rotations, flips or cutouts that real images do not.

    real: uint8 [N, 3, H, W], N >= 4 (a few hundred or more for a meaningful check); gen: uint8
    [M, 3, H, W] of the same size. `extractor` is a FeatureExtractor or a registered name (built on
    `device`). `seed` splits the real images into halves and picks the variant of each control image.
    With the default transforms features are extracted for about 4 N + 5 M images. See the module
    docstring for the method and the thresholds `min_contrast`, `min_fraction`, `z`,
    `max_distance_ratio`, `min_margin_ratio`, `min_power_ratio`, `max_blind_share` and
    `max_turned_distance_ratio`.
    """
    real_t, gen_t = _as_uint8_tensor(real, "real"), _as_uint8_tensor(gen, "generated")
    if real_t.shape[2:] != gen_t.shape[2:]:
        raise GanvasError(f"leak check: real images are {tuple(real_t.shape[2:])} and generated ones "
                          f"{tuple(gen_t.shape[2:])}; compare images of one size")
    if len(real_t) < 4 or len(gen_t) < 1:
        raise GanvasError(f"leak check needs at least 4 real and 1 generated image, got {len(real_t)} and "
                          f"{len(gen_t)}")
    unknown = [t for t in transforms if t not in LEAK_TRANSFORMS]
    if unknown:
        raise GanvasError(f"unknown leak-check transform(s) {', '.join(unknown)}; choose from: "
                          f"{', '.join(LEAK_TRANSFORMS)}")
    h, w = real_t.shape[2:]
    skipped = tuple(t for t in transforms if t == "rot90" and h != w)
    active = [t for t in transforms if t not in skipped]
    need_features = any(t != "cutout" for t in active)
    fx = build_extractor(extractor, device=device) if need_features and isinstance(extractor, str) else extractor

    def features(x: Tensor) -> np.ndarray:
        return extract(fx, x, batch_size=batch_size, progress=progress)

    # Split the real images: reference A (the candidates), held-out B (baseline and control queries).
    rng = np.random.default_rng(seed)
    order = torch.from_numpy(rng.permutation(len(real_t)))
    half = (len(real_t) + 1) // 2
    ref, held = real_t[order[:half]], real_t[order[half:]]
    if need_features:
        f_ref, f_held, f_gen = features(ref), features(held), features(gen_t)  # [|A|, D], [|B|, D], [M, D]
        d_held, d_gen = _min_sq_dist(f_held, f_ref), _min_sq_dist(f_gen, f_ref)  # to the nearest image of A

    results: dict[str, TransformLeak] = {}
    gen_rng = np.random.default_rng([seed, 1])  # the variant of each generated image's transformed copy
    for name in active:
        transform = LEAK_TRANSFORMS[name]
        held_t = torch.stack(transform(held))  # [k, |B|, 3, H, W]
        pick = torch.from_numpy(rng.integers(0, len(held_t), len(held)))
        ctrl = held_t[pick, torch.arange(len(held))]  # T(B): one variant per image
        ratio = margin = power = 1.0
        if name == "cutout":
            gen_hits, held_hits, ctrl_hits = _has_grey_square(gen_t), _has_grey_square(held), _has_grey_square(ctrl)
        else:
            f_t = np.concatenate([features(v) for v in transform(ref)])  # [k * |A|, D]
            f_ctrl = features(ctrl)
            d_gen_t, d_held_t = _min_sq_dist(f_gen, f_t), _min_sq_dist(f_held, f_t)
            # Hit: the nearest candidate is in T(A), strictly nearer than any image of A.
            d_ctrl, d_ctrl_t = _min_sq_dist(f_ctrl, f_ref), _min_sq_dist(f_ctrl, f_t)
            gen_hits, held_hits, ctrl_hits = d_gen_t < d_gen, d_held_t < d_held, d_ctrl_t < d_ctrl
            ratio = _distance_ratio(np.minimum(d_gen, d_gen_t), np.minimum(d_held, d_held_t))
            # Real images vote about as decisively upright (B) as transformed (T(B)); the smaller is the yardstick.
            typical = min(_median_margin(d_held, d_held_t), _median_margin(d_ctrl, d_ctrl_t))
            margin = _median_margin(d_gen, d_gen_t) / max(typical, 1e-12)
            # Power: transform the generated images on purpose; does their rate move as real images' does?
            gen_tt = torch.stack(transform(gen_t))  # [k, M, 3, H, W]
            gen_tt = gen_tt[torch.from_numpy(gen_rng.integers(0, len(gen_tt), len(gen_t))), torch.arange(len(gen_t))]
            f_gen_tt = features(gen_tt)
            rate_tt = float(np.mean(_min_sq_dist(f_gen_tt, f_t) < _min_sq_dist(f_gen_tt, f_ref)))
        rate, baseline, control = (float(np.mean(hits)) for hits in (gen_hits, held_hits, ctrl_hits))
        contrast = control - baseline
        if name != "cutout":
            power = (rate_tt - rate) / max(contrast, 1e-12)
        detectable = contrast >= min_contrast
        fraction = min(max((rate - baseline) / contrast, 0.0), 1.0) if detectable else 0.0
        se = _diff_se(rate, len(gen_t), baseline, len(held))
        trusted = bool(ratio <= max_distance_ratio and margin >= min_margin_ratio)  # the votes can be read at all
        # Votes that turn back when the samples are transformed on purpose read the samples' own orientation
        # as T's: evidence of a leak even where the samples are too far from the data (or vote too faintly)
        # for the gates above, as long as T explains them (not farther than max_turned_distance_ratio).
        turned = bool(power <= -min_power_ratio and ratio <= max_turned_distance_ratio)
        flagged = detectable and (trusted or turned) and fraction >= min_fraction and rate - baseline > z * se
        # S_T: smaller leaks stay within chance; 1 (capped) when not even a leak in every image would show.
        min_share = min(z * se / contrast, 1.0) if contrast > 0 else 1.0
        # "ok" also needs the power to see a leak: the votes move, and a leak of max_blind_share would be flagged.
        conclusive = flagged or (trusted and power >= min_power_ratio and min_share <= max_blind_share)
        weak = flagged and abs(power) < min_power_ratio
        results[name] = TransformLeak(name, rate, baseline, control, fraction, detectable, flagged, ratio, conclusive,
                                      margin, power, weak, min_share)

    leaked = any(r.flagged and not r.weak for r in results.values())
    n = len(gen_t)
    vague = [r for r in results.values() if r.detectable and not r.conclusive]
    if any(r.flagged for r in results.values()):
        parts = [f"{r.name} in ~{r.fraction:.0%}" for r in results.values() if r.flagged]
        summary = (f"{'augmentation leak' if leaked else 'possible augmentation leak'}: of {n} generated images, "
                   f"{', '.join(parts)} look transformed")
        # A leak of about half the images, or samples whose features are blind to T, barely move under T.
        doubt = [r.name for r in results.values() if r.weak]
        if doubt:
            summary += (f"; but for {', '.join(doubt)} transforming them on purpose barely moves their votes (power "
                        f"under {min_power_ratio:g}x real images'), as it would for samples whose orientation the "
                        f"features cannot see: look at the samples before trusting that")
    elif results:
        seen = [r for r in results.values() if r.detectable and r.conclusive]
        summary = f"no augmentation leak found in {n} generated images"
        if seen:
            worst = max(seen, key=lambda r: r.fraction)
            summary += f" (largest estimate: {worst.name} in ~{worst.fraction:.0%})"
        unseen = [r.name for r in results.values() if not r.detectable]
        if unseen:
            summary += f"; not detectable here: {', '.join(unseen)}"
    else:
        summary = "no transform checked"
    if vague:
        far = max(r.distance_ratio for r in vague)
        faint = min(r.margin_ratio for r in vague)
        weak = min(r.power_ratio for r in vague)
        why = []
        if far > max_distance_ratio:
            why.append(f"the generated images are {far:.2f}x as far from the data as real images are from each "
                       f"other (judged up to {max_distance_ratio:g}x)")
        if faint < min_margin_ratio:
            why.append(f"their votes are {faint:.2f}x as decisive as real images' (judged from {min_margin_ratio:g}x): "
                       f"they show too little orientation to tell upright from transformed")
        if weak < min_power_ratio:
            why.append(f"transforming them on purpose moves their votes {weak:.2f}x as far as real images' (judged "
                       f"from {min_power_ratio:g}x): a leak would not show in them")
        blind = max(r.min_share for r in vague)
        if blind > max_blind_share:
            why.append(f"with {len(held)} held-out real and {n} generated images only a leak in at least "
                       f"{blind:.0%} of the images would stand out from chance (judged up to "
                       f"{max_blind_share:.0%}): check against more real images (a larger --num, with a --ref "
                       f"that has that many)")
        summary += (f"; inconclusive for {', '.join(r.name for r in vague)}: {', and '.join(why)}, so "
                    f"nearest-neighbour votes cannot tell. Train longer and check again; until then, judge the "
                    f"sample grid by eye")
    if skipped:
        summary += f"; skipped {', '.join(skipped)} (non-square images)"
    return LeakReport(results, leaked, summary, len(ref), len(held), n, skipped)


def combine_leak_reports(reports: dict[str, LeakReport]) -> dict:
    """One verdict from checks of the same images in several feature spaces ({space label: report}).

    Per transform: LEAK where any space flags it with the power to see it; else LEAK? (possible) where a
    space flags it without; else ok where some space had the power to see a leak and found none (a space
    that could not see one does not outweigh it); else "not detectable" where no space could detect the
    transform at all; else inconclusive. Returns plain values: `leaked`,
    `verdicts` {transform: state}, `summary` (the verdict, then each space's own summary) and `spaces`
    {label: report dict}.
    """
    states: dict[str, dict[str, str]] = {}  # transform -> {space: state}
    for label, report in reports.items():
        for name, t in report.transforms.items():
            states.setdefault(name, {})[label] = t.state
    verdicts: dict[str, tuple[str, list[str]]] = {}
    for name, by_space in states.items():
        for word in ("LEAK", "LEAK?", "ok"):
            spaces = [s for s, state in by_space.items() if state == word]
            if spaces:
                verdicts[name] = (word, spaces)
                break
        else:
            blind = all(state == "not detectable" for state in by_space.values())
            verdicts[name] = ("not detectable" if blind else "inconclusive", list(by_space))
    leaked = any(r.leaked for r in reports.values())

    def listed(word: str) -> list[str]:
        return [f"{n} ({', '.join(s)})" for n, (w, s) in verdicts.items() if w == word]

    if len(reports) == 1:
        summary = next(iter(reports.values())).summary
    else:
        if leaked:
            head = f"augmentation leak: {', '.join(listed('LEAK'))}"
        elif listed("LEAK?"):
            head = (f"possible augmentation leak: {', '.join(listed('LEAK?'))}; the votes barely move when the "
                    f"samples are transformed on purpose, so look at the samples before trusting that")
        elif listed("ok"):
            head = f"no augmentation leak: {', '.join(listed('ok'))} checked with the power to see one"
        else:
            head = "no verdict"
        undecided = [n for n, (w, _) in verdicts.items() if w == "inconclusive"]
        if undecided and not leaked:
            head += f"; inconclusive in every feature space: {', '.join(undecided)}"
        summary = head + "".join(f"\n  {label}: {report.summary}" for label, report in reports.items())
    return {"leaked": leaked, "verdicts": {n: w for n, (w, _) in verdicts.items()}, "summary": summary,
            "spaces": {label: report.to_dict() for label, report in reports.items()}}
