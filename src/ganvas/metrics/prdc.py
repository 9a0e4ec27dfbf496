"""k-NN manifold metrics on feature arrays: precision/recall and density/coverage.

Improved precision/recall (Kynkäänniemi et al. 2019), k = 3: every point of a reference set gets a ball
whose radius is the distance to its k-th nearest neighbour in that set, itself excluded. Precision is the
fraction of generated points inside at least one real ball, recall the fraction of real points inside at
least one generated ball; "inside" is `<=`.

Density/coverage (Naeem et al. 2020), k = 5: balls come from the real points only and "inside" is strict
`<`. Density = (1 / (k M)) sum_j sum_i 1[d(g_j, r_i) < rad_i] (can exceed 1); coverage = fraction of
real points whose nearest generated point lies inside their ball.

Distances are computed `block_rows` rows at a time ([block_rows, N] float64, 80 MB for 1024 x 10k), so
10k x 10k sets never need the full distance matrix.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(100, 4))
>>> precision_recall(x, x)
{'precision': 1.0, 'recall': 1.0}
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ganvas.errors import GanvasError
from ganvas.metrics.fid import check_features

BLOCK_ROWS = 1024


def _distance_blocks(a: np.ndarray, b: np.ndarray, block_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (start, D) with D [rows, len(b)] the Euclidean distances of a[start:start+rows] to all of b."""
    b_sq = np.einsum("ij,ij->i", b, b)  # [len(b)]
    for start in range(0, len(a), block_rows):
        rows = a[start:start + block_rows]  # [rows, d]
        rows_sq = np.einsum("ij,ij->i", rows, rows)  # [rows]
        # ||x - y||^2 = ||x||^2 + ||y||^2 - 2 x.y; round-off can make it slightly negative, hence the clip.
        sq = rows_sq[:, None] + b_sq[None, :] - 2.0 * (rows @ b.T)
        yield start, np.sqrt(np.maximum(sq, 0.0))


def knn_radii(feats: np.ndarray, k: int, *, block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """feats [N, d] -> radii [N]: distance of each point to its k-th nearest other point (N > k)."""
    n = len(feats)
    if not 1 <= k < n:
        raise GanvasError(f"k-NN radii with k={k} need more than k points, got {n}")
    radii = np.empty(n, dtype=np.float64)
    for start, dist in _distance_blocks(feats, feats, block_rows):
        rows = np.arange(dist.shape[0])
        dist[rows, start + rows] = np.inf  # exclude the point itself (by index, so duplicates still count)
        radii[start:start + len(rows)] = np.partition(dist, k - 1, axis=1)[:, k - 1]
    return radii


def _fraction_inside_any_ball(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, block_rows: int) -> float:
    """Fraction of `points` within `<=` radii[i] of at least one centres[i]."""
    inside = 0
    for _, dist in _distance_blocks(points, centres, block_rows):
        inside += int(np.count_nonzero((dist <= radii[None, :]).any(axis=1)))
    return inside / len(points)


def precision_recall(
    real_feats: np.ndarray, gen_feats: np.ndarray, *, seed: int = 0, k: int = 3, block_rows: int = BLOCK_ROWS
) -> dict[str, float]:
    """Improved precision and recall of generated [M, d] against real [N, d] features (deterministic;
    `seed` is unused). Needs more than k samples in each set."""
    real, gen = check_features(real_feats, gen_feats, min_samples=k + 1, metric="precision/recall")
    real_radii = knn_radii(real, k, block_rows=block_rows)  # [N]
    gen_radii = knn_radii(gen, k, block_rows=block_rows)  # [M]
    return {"precision": _fraction_inside_any_ball(gen, real, real_radii, block_rows),
            "recall": _fraction_inside_any_ball(real, gen, gen_radii, block_rows)}


def density_coverage(
    real_feats: np.ndarray, gen_feats: np.ndarray, *, seed: int = 0, k: int = 5, block_rows: int = BLOCK_ROWS
) -> dict[str, float]:
    """Density and coverage of generated [M, d] against real [N, d] features (deterministic; `seed` is
    unused). Needs more than k real samples."""
    real, gen = check_features(real_feats, gen_feats, min_samples=1, metric="density/coverage")
    if len(real) <= k:
        raise GanvasError(f"density/coverage: needs more than k={k} real samples, got {len(real)}")
    real_radii = knn_radii(real, k, block_rows=block_rows)  # [N]

    # Density: count, over all (generated, real) pairs, the generated points strictly inside real balls.
    hits = 0
    for _, dist in _distance_blocks(gen, real, block_rows):  # [rows of gen, N]
        hits += int(np.count_nonzero(dist < real_radii[None, :]))
    density = hits / (k * len(gen))

    # Coverage: a real ball is covered if its nearest generated point lies strictly inside it.
    covered = 0
    for start, dist in _distance_blocks(real, gen, block_rows):  # [rows of real, M]
        nearest = dist.min(axis=1)
        covered += int(np.count_nonzero(nearest < real_radii[start:start + len(nearest)]))
    coverage = covered / len(real)
    return {"density": density, "coverage": coverage}
