"""Metric math on feature arrays (REFERENCES section 3): analytic FID values, a scipy reference, KID against
its O(m^2) formula, and the precision/recall and density/coverage conventions."""

import math

import numpy as np
import pytest
from scipy import linalg
from scipy.spatial.distance import cdist

from ganvas.errors import ConfigError, GanvasError
from ganvas.metrics import fid as fid_module
from ganvas.metrics.fid import feature_stats, fid, frechet_distance
from ganvas.metrics.kid import kid
from ganvas.metrics.prdc import density_coverage, knn_radii, precision_recall
from ganvas.metrics.registry import METRICS


def _rng(seed=0):
    return np.random.default_rng(seed)


# FID.


def test_same_set_gives_zero_fid():
    x = _rng(1).normal(size=(500, 16)) * 3.0 + 2.0
    out = fid(x, x)
    assert out["fid"] == pytest.approx(0.0, abs=1e-3)
    assert (out["num_real"], out["num_gen"]) == (500, 500)


def test_unit_mean_shift_in_2048_dims_gives_2048():
    d = 2048
    eye = np.eye(d)
    assert frechet_distance(np.zeros(d), eye, np.ones(d), eye) == pytest.approx(2048.0, rel=1e-9)


def test_mean_shift_gives_squared_norm():
    d = 32
    m = _rng(2).normal(size=d)
    assert frechet_distance(np.zeros(d), np.eye(d), m, np.eye(d)) == pytest.approx(m @ m, rel=1e-9)
    # The same non-trivial covariance on both sides: the trace terms must cancel, leaving ||m||^2.
    a = _rng(3).normal(size=(d, d))
    sigma = a @ a.T / d + 0.1 * np.eye(d)
    assert frechet_distance(np.zeros(d), sigma, m, sigma) == pytest.approx(m @ m, rel=1e-6)


@pytest.mark.parametrize("a,b", [(1.0, 4.0), (0.25, 2.0), (3.0, 3.0)])
def test_scaled_identities_give_d_times_sqrt_gap_squared(a, b):
    d = 64
    expected = d * (math.sqrt(a) - math.sqrt(b)) ** 2
    value = frechet_distance(np.zeros(d), a * np.eye(d), np.zeros(d), b * np.eye(d))
    assert value == pytest.approx(expected, abs=1e-8)


def _reference_fid(x, y):
    """FID computed another way: Tr sqrt(S1 S2) = sum sqrt(eig(S1^1/2 S2 S1^1/2)), with eigh."""
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1 = (x - mu1).T @ (x - mu1) / (len(x) - 1)
    s2 = (y - mu2).T @ (y - mu2) / (len(y) - 1)
    w, v = np.linalg.eigh(s1)
    s1_half = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    ev = np.linalg.eigvalsh(s1_half @ s2 @ s1_half)
    tr_covmean = np.sqrt(np.clip(ev, 0.0, None)).sum()
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


@pytest.mark.parametrize("n,d", [(200, 16), (64, 128), (2, 2), (3000, 32)])  # (64, 128): singular covariances
def test_fid_matches_an_independent_reference(n, d):
    rng = _rng(2023)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, d)) * 1.5 + 0.3
    assert fid(x, y)["fid"] == pytest.approx(_reference_fid(x, y), rel=1e-5)


def test_fid_from_samples_of_shifted_gaussians():
    d = 8
    rng = _rng(4)
    x = rng.normal(size=(5000, d))
    y = rng.normal(size=(5000, d)) + 1.0  # N(1 e, I): FID = ||e||^2 = d
    assert fid(x, y)["fid"] == pytest.approx(d, abs=0.4)


def test_covariance_divides_by_n_minus_1():
    mu, sigma = feature_stats(np.array([[0.0, 1.0], [2.0, 5.0]]))
    np.testing.assert_allclose(mu, [1.0, 3.0])
    np.testing.assert_allclose(sigma, [[2.0, 4.0], [4.0, 8.0]])  # dividing by N would give half
    _, sigma1 = feature_stats(np.array([[0.0], [2.0]]))
    assert sigma1.shape == (1, 1) and sigma1[0, 0] == pytest.approx(2.0)


def test_non_finite_sqrtm_retries_with_eps(monkeypatch):
    real_sqrtm = fid_module.linalg.sqrtm
    seen = []

    def flaky(a):
        seen.append(a.copy())
        return np.full_like(a, np.nan) if len(seen) == 1 else real_sqrtm(a)

    monkeypatch.setattr(fid_module.linalg, "sqrtm", flaky)
    value = frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(3))
    assert len(seen) == 2
    np.testing.assert_allclose(seen[1], (1 + 1e-6) ** 2 * np.eye(3))  # (S1 + eps I)(S2 + eps I)
    assert value == pytest.approx(0.0, abs=1e-5)


def test_a_large_imaginary_part_falls_back_to_the_exact_trace_a_small_one_is_dropped(monkeypatch):
    """scipy's sqrtm of a product of singular covariances can carry large imaginary parts that cancel in
    the trace (seen on 1,000 EfficientNet-Lite0 features in 1,280 dimensions); the trace then comes from
    the eigenvalues of S1^(1/2) S2 S1^(1/2). Matrices that are not covariances are refused."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((40, 3)), rng.standard_normal((40, 3)) * 2.0 + 1.0
    (m1, s1), (m2, s2) = fid_module.feature_stats(a), fid_module.feature_stats(b)
    exact = frechet_distance(m1, s1, m2, s2)
    true_root = linalg.sqrtm(s1 @ s2)
    skew = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # traceless
    monkeypatch.setattr(fid_module.linalg, "sqrtm", lambda x: true_root + 0.5j * skew)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(exact, rel=1e-9)
    monkeypatch.setattr(fid_module.linalg, "sqrtm", lambda x: true_root + 50.0 + 0.5j * skew)  # a wrong root
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(exact, rel=1e-9)  # not used: its imag part is large
    eye = np.eye(3)
    monkeypatch.setattr(fid_module.linalg, "sqrtm", lambda x: eye + 1e-6j * eye)
    assert frechet_distance(np.zeros(3), eye, np.zeros(3), eye) == pytest.approx(0.0, abs=1e-12)
    monkeypatch.setattr(fid_module.linalg, "sqrtm", lambda x: eye + 0.1j * eye)
    with pytest.raises(GanvasError, match="sigma2 is not a covariance matrix"):
        frechet_distance(np.zeros(3), eye, np.zeros(3), -eye)


def test_the_exact_trace_matches_sqrtm_on_regular_and_singular_covariances():
    rng = np.random.default_rng(1)
    for n, d in ((200, 8), (20, 50)):  # more samples than dimensions, and fewer (rank n - 1 < d)
        (m1, s1), (m2, s2) = (fid_module.feature_stats(rng.standard_normal((n, d)) * k) for k in (1.0, 1.5))
        root = linalg.sqrtm(s1 @ s2)
        assert fid_module._trace_sqrt_product(s1, s2) == pytest.approx(float(np.trace(root).real), rel=1e-6)


# KID.


def _kid_by_loops(x, y):
    """The unbiased MMD^2 estimator written out term by term."""
    m, d = x.shape

    def k(a, b):
        return (float(a @ b) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2.0 * xy / m**2


def test_kid_equals_the_direct_formula():
    rng = _rng(5)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)) + 0.5
    out = kid(x, y, num_subsets=1)  # one subset of size 7 = the whole set, shuffled
    assert out["kid"] == pytest.approx(_kid_by_loops(x, y), rel=1e-10)
    assert out["kid_std"] == 0.0 and out["kid_subsets"] == 1 and out["kid_subset_size"] == 7


def test_kid_near_zero_for_two_halves_and_positive_for_a_shift():
    x = _rng(6).normal(size=(600, 16))
    same = kid(x[:300], x[300:], max_subset_size=100, num_subsets=50)
    assert abs(same["kid"]) < 3 * same["kid_std"] or abs(same["kid"]) < 0.01
    shifted = kid(x[:300], x[300:] + 0.5, max_subset_size=100, num_subsets=50)
    assert shifted["kid"] > 0.1 and shifted["kid"] > 3 * shifted["kid_std"]
    assert shifted["kid_subset_size"] == 100


def test_kid_subsets_follow_the_seed():
    rng = _rng(7)
    x, y = rng.normal(size=(80, 4)), rng.normal(size=(60, 4))
    a = kid(x, y, seed=1, num_subsets=5, max_subset_size=20)
    assert a == kid(x, y, seed=1, num_subsets=5, max_subset_size=20)
    assert a["kid"] != kid(x, y, seed=2, num_subsets=5, max_subset_size=20)["kid"]
    assert kid(x, y, num_subsets=2)["kid_subset_size"] == 60  # min(1000, N, M)


# Precision/recall and density/coverage.


def test_identical_sets_have_full_precision_recall_and_coverage():
    x = _rng(8).normal(size=(200, 16))
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    assert density_coverage(x, x)["coverage"] == 1.0


def test_precision_recall_convention():
    """REFERENCES: a narrow generated cloud inside a wide real one: high precision, low recall."""
    rng = _rng(9)
    gen = 0.1 * rng.normal(size=(200, 16))
    real = 3.0 * rng.normal(size=(200, 16))
    out = precision_recall(real, gen)
    assert out["precision"] > 0.8 and out["recall"] < 0.3


def test_ball_boundaries_are_inclusive_for_pr_and_strict_for_dc():
    """1-D, k=1: every generated point lies exactly on a real ball's boundary."""
    real = np.array([[0.0], [1.0], [3.0]])  # radii with k=1: 1, 1, 2
    gen = np.array([[-1.0], [5.0]])  # radii with k=1: 6, 6
    np.testing.assert_array_equal(knn_radii(real, 1), [1.0, 1.0, 2.0])
    assert precision_recall(real, gen, k=1) == {"precision": 1.0, "recall": 1.0}  # `<=`
    assert density_coverage(real, gen, k=1) == {"density": 0.0, "coverage": 0.0}  # `<`


def test_knn_radius_excludes_the_point_itself_but_not_its_duplicates():
    x = np.array([[0.0], [0.0], [2.0], [5.0]])
    np.testing.assert_array_equal(knn_radii(x, 1), [0.0, 0.0, 2.0, 3.0])
    np.testing.assert_array_equal(knn_radii(x, 2), [2.0, 2.0, 2.0, 5.0])


def _prdc_by_full_matrices(real, gen, k_pr, k_dc):
    d_rr, d_gg, d_gr = cdist(real, real), cdist(gen, gen), cdist(gen, real)
    rad_pr_real = np.sort(d_rr, axis=1)[:, k_pr]  # column 0 is the point itself
    rad_pr_gen = np.sort(d_gg, axis=1)[:, k_pr]
    rad_dc = np.sort(d_rr, axis=1)[:, k_dc]
    return {
        "precision": float((d_gr <= rad_pr_real[None, :]).any(axis=1).mean()),
        "recall": float((d_gr.T <= rad_pr_gen[None, :]).any(axis=1).mean()),
        "density": float((d_gr < rad_dc[None, :]).sum() / (k_dc * len(gen))),
        "coverage": float((d_gr.min(axis=0) < rad_dc).mean()),
    }


@pytest.mark.parametrize("block_rows", [7, 1024])
def test_blocked_computation_matches_full_matrices(block_rows):
    rng = _rng(10)
    real = rng.normal(size=(150, 8))
    gen = rng.normal(size=(90, 8)) * 0.8 + 0.3
    expected = _prdc_by_full_matrices(real, gen, 3, 5)
    got = {**precision_recall(real, gen, block_rows=block_rows), **density_coverage(real, gen, block_rows=block_rows)}
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0.0 < got["precision"] < 1.0 and 0.0 < got["coverage"] < 1.0  # a case that can tell them apart


def test_density_coverage_self_consistency():
    rng = _rng(11)
    real = rng.normal(size=(300, 8))
    far = rng.normal(size=(300, 8)) + 1000.0
    assert density_coverage(real, far) == {"density": 0.0, "coverage": 0.0}
    assert precision_recall(real, far) == {"precision": 0.0, "recall": 0.0}
    # A generator that only ever makes a subset of the real images: its nearest-sample distances can only
    # grow as the subset shrinks, so coverage falls.
    cov = {n: density_coverage(real, real[:n])["coverage"] for n in (30, 100, 300)}
    assert cov[30] < cov[100] < cov[300] == 1.0


# Registry and bad input.


def test_registry_lists_the_metrics_and_each_returns_floats():
    assert METRICS.names() == ["dc", "fid", "kid", "pr"]
    rng = _rng(12)
    real, gen = rng.normal(size=(40, 4)), rng.normal(size=(30, 4))
    for name in METRICS.names():
        out = METRICS.get(name)(real, gen, seed=0)
        assert out and all(isinstance(v, (int, float)) and math.isfinite(v) for v in out.values()), name
        assert out == METRICS.get(name)(real, gen, seed=0), f"{name} is not deterministic for a seed"
    with pytest.raises(ConfigError, match="choose one of: dc, fid, kid, pr"):
        METRICS.get("is")


@pytest.mark.parametrize("name", ["fid", "kid", "pr", "dc"])
def test_bad_input_gives_clear_errors(name):
    metric = METRICS.get(name)
    rng = _rng(13)
    real, gen = rng.normal(size=(20, 4)), rng.normal(size=(20, 4))
    with pytest.raises(GanvasError, match=r"needs (at least \d+|more than k=\d+) real samples, got 1"):
        metric(real[:1], gen)
    with pytest.raises(GanvasError, match=r"differ in size \(4 vs 3\)"):
        metric(real, gen[:, :3])
    bad = gen.copy()
    bad[3, 1] = np.nan
    with pytest.raises(GanvasError, match="generated features contain 1 NaN"):
        metric(real, bad)
    with pytest.raises(GanvasError, match="2-D array"):
        metric(real[:, 0], gen)


def test_too_few_generated_samples_and_bad_stats_shapes():
    x = _rng(14).normal(size=(20, 4))
    with pytest.raises(GanvasError, match="at least 2 generated samples, got 1"):
        fid(x, x[:1])
    with pytest.raises(GanvasError, match="at least 4 generated samples, got 3"):
        precision_recall(x, x[:3])
    with pytest.raises(GanvasError, match="shapes do not fit"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(GanvasError, match="sigma2 contains NaN"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.full((2, 2), np.nan))
