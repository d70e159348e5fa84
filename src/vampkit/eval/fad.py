"""The Fréchet distance between two Gaussians fitted to feature sets (FAD's formula).

``d = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)``. The trace of the matrix
square root is taken from the eigenvalues of the symmetric PSD matrix ``S1^1/2 S2 S1^1/2``
(``eigh``, negatives from rounding clipped to 0) instead of ``sqrtm(S1 S2)``: it is real by
construction, so there is no imaginary part to discard, and it stays finite on rank-deficient
(singular) covariances, where ``sqrtm`` of the product warns and needs a diagonal offset.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64, unbiased) of ``features [n_samples, dim]``."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ParameterError(f"Fréchet distance needs at least 2 feature vectors [n, dim], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ParameterError("Fréchet distance: features contain NaN or infinite values")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The PSD square root of a symmetric matrix (negative eigenvalues from rounding -> 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr((S1 S2)^1/2)``, computed as ``tr((S1^1/2 S2 S1^1/2)^1/2)`` (same eigenvalues)."""
    root = _psd_sqrt(sigma1)
    inner = root @ sigma2 @ root
    values = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); >= 0, 0 for equal Gaussians."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ParameterError(f"Fréchet distance: shapes do not match: mu {mu1.shape} vs {mu2.shape}, "
                             f"sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    # the distance is >= 0; rounding can leave a tiny negative value for (nearly) equal Gaussians
    return max(0.0, float(value))


def frechet_audio_distance(outputs: np.ndarray, references: np.ndarray) -> float:
    """FAD of two embedding sets ``[frames, dim]`` (all frames of all clips of each set)."""
    mu1, sigma1 = gaussian_stats(outputs)
    mu2, sigma2 = gaussian_stats(references)
    return frechet_distance(mu1, sigma1, mu2, sigma2)
