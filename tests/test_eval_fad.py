"""The Fréchet distance behind FAD: a metric on Gaussians, numerically sound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vampkit.errors import ParameterError
from vampkit.eval.fad import frechet_audio_distance, frechet_distance, gaussian_stats

finite = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
variances = st.floats(0.0, 4.0, allow_nan=False, allow_infinity=False)


def _features(seed: int, n: int = 200, dim: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim))


def test_identical_sets_are_at_distance_zero():
    x = _features(0)
    assert frechet_audio_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_distance_is_symmetric():
    a, b = _features(1), _features(2) + 0.5
    assert frechet_audio_distance(a, b) == pytest.approx(frechet_audio_distance(b, a), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(mu1=st.lists(finite, min_size=3, max_size=3), mu2=st.lists(finite, min_size=3, max_size=3),
       d1=st.lists(variances, min_size=3, max_size=3), d2=st.lists(variances, min_size=3, max_size=3),
       seed=st.integers(0, 1000))
def test_equals_the_closed_form_for_gaussians_with_a_shared_eigenbasis(mu1, mu2, d1, d2, seed):
    # S1 = Q D1 Q^T, S2 = Q D2 Q^T commute: d = |mu1 - mu2|^2 + sum (sqrt(d1) - sqrt(d2))^2
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    s1, s2 = q @ np.diag(d1) @ q.T, q @ np.diag(d2) @ q.T
    expected = np.sum((np.array(mu1) - np.array(mu2)) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert frechet_distance(np.array(mu1), s1, np.array(mu2), s2) == pytest.approx(expected, rel=1e-6, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_is_non_negative_and_symmetric_for_any_pair_of_gaussians(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1, s2, m1, m2 = a @ a.T, b @ b.T, rng.normal(size=4), rng.normal(size=4)
    d = frechet_distance(m1, s1, m2, s2)
    assert d >= 0
    assert d == pytest.approx(frechet_distance(m2, s2, m1, s1), rel=1e-7, abs=1e-9)


def test_rank_deficient_sets_give_a_finite_stable_value():
    rng = np.random.default_rng(3)
    low = rng.normal(size=(5, 2)) @ rng.normal(size=(2, 16))  # 5 samples in 16 dims, rank 2
    other = low + rng.normal(size=(5, 16)) * 0.1
    d = frechet_audio_distance(low, other)
    assert np.isfinite(d) and d >= 0
    assert frechet_audio_distance(low, low) == pytest.approx(0.0, abs=1e-8)
    # a tiny ridge on the covariances barely moves the value: no blow-up near singularity
    m1, s1 = gaussian_stats(low)
    m2, s2 = gaussian_stats(other)
    ridge = np.eye(16) * 1e-10
    assert frechet_distance(m1, s1 + ridge, m2, s2 + ridge) == pytest.approx(d, rel=1e-3)


def test_agrees_with_scipy_sqrtm_on_well_conditioned_sets():
    from scipy import linalg

    a, b = _features(4), _features(5) * 1.3 + 0.2
    (m1, s1), (m2, s2) = gaussian_stats(a), gaussian_stats(b)
    classic = np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(classic, rel=1e-6)


def test_too_few_features_are_refused():
    with pytest.raises(ParameterError, match="at least 2"):
        frechet_audio_distance(np.zeros((1, 4)), np.zeros((3, 4)))
