"""Paired statistics over per-item results: bootstrap CIs, McNemar's test, Pearson's r.

Pure functions. numpy is imported inside ``paired_bootstrap_ci`` only, so the controller (which
renders stored results) stays light; ``mcnemar`` and ``pearson`` are plain Python, and the tests
check their p-values against scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import fmean
from typing import Any

__all__ = ["discordant_pairs", "mcnemar", "paired_bootstrap_ci", "pearson"]

# McNemar: below this many discordant pairs the chi-squared approximation is poor, so the exact
# binomial test is used (statsmodels' advice; scipy has no McNemar, binomtest is its exact form).
EXACT_BELOW = 25
# Cells of one resampling block (resamples x items or distinct values): bounds memory.
_BLOCK_CELLS = 4_000_000
# Up to this many distinct differences (0/1 metrics, Likert judges) a resample is drawn as
# multinomial counts over them; beyond it (F1) drawing item indices is faster.
_FEW_VALUES = 64


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], *, n_resamples: int = 10_000,
                        seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``mean(a) - mean(b)`` over paired items.

    Items are resampled with replacement as pairs (``a[i]`` with ``b[i]``), so the interval
    reflects the per-item correlation between the two systems. Resampling n items uniformly is
    drawing multinomial counts, and items with the same difference are interchangeable, so when
    there are few distinct differences (0/1 metrics) the draw is made over them: the same
    distribution, far cheaper. The same inputs and ``seed`` always give the same interval.

    Args:
        a: Per-item values of the first system (e.g. native), aligned with ``b``.
        b: Per-item values of the second system (e.g. mean of the translated conditions).
        n_resamples: Bootstrap resamples.
        seed: Seed of the random generator.
        confidence: Coverage of the interval, in (0, 1).

    Returns:
        (low, high) percentiles of the resampled mean difference.

    Raises:
        ValueError: If the lengths differ, there are no items, or an option is out of range.
    """
    import numpy as np

    _check_pairs(a, b)
    if n_resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(f"n_resamples={n_resamples}, confidence={confidence}; need n_resamples "
                         ">= 1 and 0 < confidence < 1")
    diffs = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    means = _resampled_means(diffs, rng, n_resamples)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _resampled_means(diffs: Any, rng: Any, n_resamples: int) -> Any:
    """Means of ``n_resamples`` bootstrap resamples of ``diffs``, in memory-bounded blocks."""
    import numpy as np

    n = diffs.size
    values, counts = np.unique(diffs, return_counts=True)
    means = np.empty(n_resamples)
    few = values.size <= _FEW_VALUES
    block = max(1, _BLOCK_CELLS // (values.size if few else n))
    for start in range(0, n_resamples, block):
        size = min(n_resamples, start + block) - start
        if few:  # counts of each distinct difference: the same distribution, O(distinct values)
            means[start:start + size] = rng.multinomial(n, counts / n, size=size) @ values / n
        else:
            means[start:start + size] = diffs[rng.integers(0, n, size=(size, n))].mean(axis=1)
    return means


def discordant_pairs(a: Sequence[float], b: Sequence[float]) -> tuple[int, int]:
    """(items right in ``a`` only, items right in ``b`` only) for 0/1 outcomes.

    Raises:
        ValueError: If the lengths differ, there are no items, or a value is not 0 or 1.
    """
    _check_pairs(a, b)
    bad = [x for x in (*a, *b) if x not in (0, 1)]
    if bad:
        raise ValueError(f"McNemar needs 0/1 outcomes; got {bad[0]!r}")
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x == 1 and y == 0)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if x == 0 and y == 1)
    return only_a, only_b


def mcnemar(a: Sequence[float], b: Sequence[float], *,
            exact_below: int = EXACT_BELOW) -> tuple[float, float]:
    """McNemar's test of paired 0/1 outcomes (e.g. accuracy of two models on the same items).

    With fewer than ``exact_below`` discordant pairs the exact two-sided binomial test is used
    (statistic = the smaller discordant count, as statsmodels reports it); otherwise the
    chi-squared statistic with continuity correction, ``(|b - c| - 1)^2 / (b + c)``, 1 dof.

    Returns:
        (statistic, p); (0.0, 1.0) when no pair is discordant.

    Raises:
        ValueError: As ``discordant_pairs``.
    """
    only_a, only_b = discordant_pairs(a, b)
    n = only_a + only_b
    if n == 0:
        return 0.0, 1.0
    if n < exact_below:
        k = min(only_a, only_b)
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
        return float(k), min(1.0, 2.0 * tail)
    statistic = (abs(only_a - only_b) - 1) ** 2 / n
    return statistic, math.erfc(math.sqrt(statistic / 2.0))  # chi2(1).sf(s) = P(|Z| > sqrt s)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, int]:
    """Pearson's r with its two-sided p-value (t-test, as ``scipy.stats.pearsonr``).

    Returns:
        (r, p, n). r and p are NaN when n < 2 or either input is constant; with n == 2, r is
        ±1 and p is 1 (scipy's convention).

    Raises:
        ValueError: If the lengths differ.
    """
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"{n} x values but {len(ys)} y values; pass one pair per point")
    if n < 2:
        return math.nan, math.nan, n
    if all(x == xs[0] for x in xs) or all(y == ys[0] for y in ys):  # as scipy: no r for a constant
        return math.nan, math.nan, n
    mx, my = fmean(xs), fmean(ys)
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    r = max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))
    if n == 2:
        return r, 1.0, n
    # p = P(|T| >= |t|), T ~ t(n-2), which is I_{1-r^2}((n-2)/2, 1/2).
    return r, _betainc((n - 2) / 2.0, 0.5, (1.0 - r) * (1.0 + r)), n


def _check_pairs(a: Sequence[float], b: Sequence[float]) -> None:
    if len(a) != len(b):
        raise ValueError(f"{len(a)} values against {len(b)}; pass item-aligned pairs")
    if not a:
        raise ValueError("no items to compare")


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float, *, eps: float = 1e-15,
                   max_terms: int = 100_000) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method."""
    tiny = 1e-300

    def clamp(v: float) -> float:
        return v if abs(v) > tiny else tiny

    c, d = 1.0, 1.0 / clamp(1.0 - (a + b) * x / (a + 1.0))
    h = d
    for m in range(1, max_terms + 1):
        even = m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m))
        d, c = 1.0 / clamp(1.0 + even * d), clamp(1.0 + even / c)
        h *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0))
        d, c = 1.0 / clamp(1.0 + odd * d), clamp(1.0 + odd / c)
        h *= d * c
        if abs(d * c - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")
