"""Fréchet Inception Distance on feature arrays (Heusel et al. 2017).

FID = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), the Fréchet distance between two Gaussians fitted
to the features. The covariance uses N - 1 (as pytorch-fid, clean-fid, torch-fidelity and torchmetrics);
its rank is at most N - 1, so every FID is reported with the sample counts that produced it.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> out = fid(rng.normal(size=(500, 4)), rng.normal(size=(500, 4)) + 1.0)
>>> round(out["fid"]), out["num_real"], out["num_gen"]
(4, 500, 500)

This module also holds `check_features`, the input check shared by every metric on feature arrays.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ganvas.errors import GanvasError

SQRTM_EPS = 1e-6  # added to both diagonals when sqrtm(S1 S2) is not finite (pytorch-fid's fallback)
MAX_IMAG = 1e-3  # a larger imaginary part in sqrtm(S1 S2) calls for the exact trace below
PSD_TOL = 1e-6  # eigenvalues below -PSD_TOL * the largest one: a "covariance" that is not one


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((S1 S2)^(1/2)) for positive semi-definite S1, S2, from the eigenvalues of the symmetric matrix
    S1^(1/2) S2 S1^(1/2), which has the same eigenvalues as S1 S2 and is PSD, so the trace is real by
    construction. Raises `GanvasError` when S1 or S2 is not PSD (beyond round-off)."""
    w1, u1 = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    for name, w in (("sigma1", w1), ("sigma2", np.linalg.eigvalsh((sigma2 + sigma2.T) / 2))):
        if w.min() < -PSD_TOL * max(w.max(), 1e-300):
            raise GanvasError(f"frechet_distance: {name} is not a covariance matrix (eigenvalue {w.min():.3g}, "
                              f"largest {w.max():.3g}); compute it with feature_stats from one set of features")
    root1 = (u1 * np.sqrt(np.clip(w1, 0, None))) @ u1.T  # S1^(1/2)
    lam = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    return float(np.sqrt(np.clip(lam, 0, None)).sum())


def check_features(
    real_feats: np.ndarray, gen_feats: np.ndarray, *, min_samples: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two feature arrays [N, d] and [M, d]; return them as float64.

    Raises `GanvasError` naming the metric and the problem: not 2-D, not numeric, different feature sizes,
    fewer than `min_samples` rows, or NaN/inf values.
    """
    out = []
    for name, feats in (("real", real_feats), ("generated", gen_feats)):
        try:
            arr = np.asarray(feats, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise GanvasError(f"{metric}: {name} features are not numeric ({e})") from None
        if arr.ndim != 2 or arr.shape[1] == 0:
            raise GanvasError(f"{metric}: {name} features must be a 2-D array [N, d] with d > 0, got shape "
                              f"{arr.shape}")
        if arr.shape[0] < min_samples:
            raise GanvasError(f"{metric}: needs at least {min_samples} {name} samples, got {arr.shape[0]}; "
                              "evaluate more images")
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise GanvasError(f"{metric}: {name} features contain {bad} NaN or infinite values; check the "
                              "feature extractor and the images it was given")
        out.append(arr)
    real, gen = out
    if real.shape[1] != gen.shape[1]:
        raise GanvasError(f"{metric}: real and generated features differ in size ({real.shape[1]} vs "
                          f"{gen.shape[1]}); extract both with the same feature extractor")
    return real, gen


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """feats [N, d] -> (mu [d], sigma [d, d]), sigma with the unbiased N - 1 normalisation."""
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise GanvasError(f"feature_stats: needs features [N, d] with N >= 2, got shape {feats.shape}")
    mu = feats.mean(axis=0)
    sigma = np.atleast_2d(np.cov(feats, rowvar=False))  # np.cov divides by N - 1; atleast_2d for d = 1
    return mu, sigma


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    >>> import numpy as np
    >>> frechet_distance(np.zeros(3), np.eye(3), np.ones(3), np.eye(3))
    3.0

    The root comes from `scipy.linalg.sqrtm`, as in pytorch-fid and clean-fid. Where it has an imaginary
    part above 1e-3, those tools stop with an error. That happens with fewer samples than feature
    dimensions (singular covariances): on 1,000 EfficientNet-Lite0 features (1,280 dimensions) of a
    generator's samples and of real images, sqrtm's imaginary part reached 1.06 while its trace's was 5e-8
    and the real trace matched the exact one to 1e-8. So the trace is then taken from eigenvalues instead
    (`_trace_sqrt_product`), which is exact for covariance matrices and refuses anything else.

    Raises `GanvasError` for shapes that do not fit and for matrices that are not covariances.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise GanvasError(f"frechet_distance: shapes do not fit: mu1 {mu1.shape}, sigma1 {sigma1.shape}, "
                          f"mu2 {mu2.shape}, sigma2 {sigma2.shape}; expected [d] and [d, d]")
    for name, arr in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.isfinite(arr).all():
            raise GanvasError(f"frechet_distance: {name} contains NaN or infinite values")

    diff = mu1 - mu2
    covmean = _sqrtm(sigma1 @ sigma2)  # [d, d], possibly complex from round-off
    if not np.isfinite(covmean).all():
        # A (near-)singular product: shift both covariances by eps * I and take the root again. The trace
        # terms keep the unshifted covariances, as pytorch-fid does.
        offset = np.eye(d) * SQRTM_EPS
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.isfinite(covmean).all() and float(np.max(np.abs(np.imag(covmean)))) <= MAX_IMAG:
        trace_root = float(np.real(np.trace(covmean)))
    else:  # singular covariances (fewer samples than dimensions): the exact trace from eigenvalues
        trace_root = _trace_sqrt_product(sigma1, sigma2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_root)


def fid(real_feats: np.ndarray, gen_feats: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """FID between real [N, d] and generated [M, d] features; `seed` is unused (FID is deterministic).

    Returns {"fid", "num_real", "num_gen", "fid_dims"}: FID depends on the sample counts, so they travel
    with it, and on how they compare with the feature dimensions (at or below them the covariances are
    singular and FID reads high).
    """
    real, gen = check_features(real_feats, gen_feats, min_samples=2, metric="FID")
    mu_real, sigma_real = feature_stats(real)
    mu_gen, sigma_gen = feature_stats(gen)
    value = frechet_distance(mu_real, sigma_real, mu_gen, sigma_gen)
    return {"fid": value, "num_real": len(real), "num_gen": len(gen), "fid_dims": real.shape[1]}


def _sqrtm(m: np.ndarray) -> np.ndarray:
    """scipy's sqrtm without its singular-matrix warning: the caller checks finiteness and the imaginary part."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(m)
