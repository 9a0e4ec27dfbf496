"""Mode coverage on 2-D Gaussian mixtures (PacGAN, Lin et al. 2018; VEEGAN, Srivastava et al. 2017).

A sample is high-quality if it lies within 3 std of its nearest mode's mean; a mode is covered if it is
the nearest mean of at least one high-quality sample; reverse KL is KL(histogram of high-quality
samples over modes || uniform).
"""

from __future__ import annotations

import math

import numpy as np


def mode_stats(samples: np.ndarray, means: np.ndarray, std: float) -> dict[str, float]:
    """samples [N, 2], means [K, 2] -> modes covered, fraction high-quality, reverse KL."""
    samples = np.asarray(samples, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != means.shape[1] or len(samples) == 0:
        raise ValueError(f"samples must be [N, {means.shape[1]}] with N > 0, got {samples.shape}")
    d = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=2)  # [N, K]
    nearest, dist = d.argmin(axis=1), d.min(axis=1)
    hq = dist <= 3.0 * std
    k = len(means)
    counts = np.bincount(nearest[hq], minlength=k).astype(np.float64)
    total = counts.sum()
    if total == 0:
        rev_kl = math.inf
    else:
        p = counts[counts > 0] / total
        rev_kl = float(np.sum(p * np.log(p * k)))  # KL(p || uniform(1/k))
    return {"modes": int((counts > 0).sum()), "num_modes": k, "high_quality": float(hq.mean()),
            "reverse_kl": rev_kl}
