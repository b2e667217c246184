"""The statistics against scipy: pearsonr, binomtest / chi2 for McNemar, bootstrap for the CIs."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats

from nativejobs.report import discordant_pairs, mcnemar, paired_bootstrap_ci, pearson


def _sample(n: int, seed: int, slope: float) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    xs = [rng.random() for _ in range(n)]
    return xs, [slope * x + rng.gauss(0, 0.3) for x in xs]


# -- pearson -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "slope"), [(3, 1.0), (4, -0.5), (5, 0.2), (12, 1.0), (24, -2.0),
                                          (100, 0.1), (2000, 0.05)],
                         ids=lambda v: str(v))
def test_pearson_matches_scipy(n: int, slope: float) -> None:
    xs, ys = _sample(n, seed=n, slope=slope)

    r, p, got_n = pearson(xs, ys)

    expected = stats.pearsonr(xs, ys)
    assert got_n == n
    assert r == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_pearson_hand_computed() -> None:
    # x = ΔS, y = S_native of three languages: r = 15/sqrt(252) = 5/sqrt(28); with 1 dof the
    # t distribution is Cauchy, so p = 1 − (2/π)·atan(t) with t = 5/sqrt(3).
    r, p, n = pearson([0.1, 0.1, 0.3], [0.6, 0.5, 0.8])

    assert (r, n) == (pytest.approx(5 / math.sqrt(28)), 3)
    assert p == pytest.approx(1 - 2 / math.pi * math.atan(5 / math.sqrt(3)))


@pytest.mark.parametrize(("xs", "ys", "expected"), [
    pytest.param([0.1, 0.2], [0.5, 0.3], (-1.0, 1.0), id="two-points"),
    pytest.param([0.1, 0.2, 0.3], [0.4, 0.4, 0.4], (None, None), id="constant-y"),
    pytest.param([0.5], [0.3], (None, None), id="one-point"),
    pytest.param([], [], (None, None), id="no-points"),
    pytest.param([0.1, 0.2, 0.3], [0.2, 0.4, 0.6], (1.0, 0.0), id="perfect"),
])
def test_pearson_edge_cases(xs: list[float], ys: list[float],
                            expected: tuple[float | None, float | None]) -> None:
    r, p, _ = pearson(xs, ys)

    got = tuple(None if math.isnan(v) else pytest.approx(v) for v in (r, p))
    assert got == expected


def test_pearson_needs_pairs() -> None:
    with pytest.raises(ValueError, match="3 x values but 2 y values"):
        pearson([1, 2, 3], [1, 2])


# -- mcnemar -------------------------------------------------------------------------------------
def _pairs(only_a: int, only_b: int, both: int = 3, neither: int = 2) -> tuple[list[int], list[int]]:
    a = [1] * only_a + [0] * only_b + [1] * both + [0] * neither
    b = [0] * only_a + [1] * only_b + [1] * both + [0] * neither
    return a, b


@pytest.mark.parametrize(("only_a", "only_b"), [(4, 0), (0, 4), (7, 3), (5, 5), (1, 0), (12, 12),
                                                (20, 4)], ids=lambda v: str(v))
def test_mcnemar_exact_matches_binomtest(only_a: int, only_b: int) -> None:
    a, b = _pairs(only_a, only_b)

    statistic, p = mcnemar(a, b)

    n = only_a + only_b
    assert n < 25
    assert statistic == min(only_a, only_b)
    assert p == pytest.approx(stats.binomtest(min(only_a, only_b), n, 0.5).pvalue, rel=1e-12)


@pytest.mark.parametrize(("only_a", "only_b"), [(20, 5), (40, 38), (13, 12), (100, 60)],
                         ids=lambda v: str(v))
def test_mcnemar_chi2_with_continuity_correction(only_a: int, only_b: int) -> None:
    a, b = _pairs(only_a, only_b)

    statistic, p = mcnemar(a, b)

    expected = (abs(only_a - only_b) - 1) ** 2 / (only_a + only_b)
    assert statistic == pytest.approx(expected)
    assert p == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-9)


def test_mcnemar_without_discordant_pairs_is_no_evidence() -> None:
    assert mcnemar([1, 0, 1], [1, 0, 1]) == (0.0, 1.0)


def test_discordant_pairs_counts_each_side() -> None:
    assert discordant_pairs(*_pairs(4, 2)) == (4, 2)


def test_mcnemar_needs_zero_one_outcomes() -> None:
    with pytest.raises(ValueError, match=r"0/1 outcomes; got 0\.5"):
        mcnemar([1, 0.5], [1, 0])


# -- paired bootstrap ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_bootstrap_ci_agrees_with_scipy(kind: str) -> None:
    # Both sides resample items in pairs and take percentiles, with different random streams,
    # so the endpoints agree up to Monte Carlo error (≈ 0.005 here).
    rng = np.random.default_rng(7)
    if kind == "binary":  # few distinct differences: drawn as multinomial counts
        a = (rng.random(400) < 0.6).astype(float)
        b = (rng.random(400) < 0.5).astype(float)
    else:  # F1-like: drawn as item indices
        a, b = rng.random(300), rng.random(300) * 0.9

    low, high = paired_bootstrap_ci(list(a), list(b), n_resamples=20_000, seed=1)

    ref = stats.bootstrap((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), paired=True,
                          method="percentile", n_resamples=20_000, random_state=2)
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.006)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.006)
    assert low < float(np.mean(a - b)) < high


def test_bootstrap_is_seeded() -> None:
    a, b = _sample(50, seed=3, slope=1.0)

    first = paired_bootstrap_ci(a, b, n_resamples=2000, seed=5)

    assert paired_bootstrap_ci(a, b, n_resamples=2000, seed=5) == first
    assert paired_bootstrap_ci(a, b, n_resamples=2000, seed=6) != first


def test_bootstrap_narrows_with_lower_confidence() -> None:
    a, b = _sample(80, seed=4, slope=1.0)

    low95, high95 = paired_bootstrap_ci(a, b, confidence=0.95)
    low50, high50 = paired_bootstrap_ci(a, b, confidence=0.5)

    assert low95 < low50 < high50 < high95


def test_bootstrap_of_identical_systems_is_zero() -> None:
    assert paired_bootstrap_ci([1, 0, 1, 1], [1, 0, 1, 1]) == (0.0, 0.0)


@pytest.mark.parametrize(("a", "b", "kwargs", "match"), [
    pytest.param([1, 0], [1], {}, "2 values against 1", id="lengths"),
    pytest.param([], [], {}, "no items", id="empty"),
    pytest.param([1], [0], {"confidence": 1.0}, "0 < confidence < 1", id="confidence"),
    pytest.param([1], [0], {"n_resamples": 0}, "n_resamples >= 1", id="resamples"),
])
def test_bootstrap_rejects_bad_input(a: list[float], b: list[float], kwargs: dict[str, float],
                                     match: str) -> None:
    with pytest.raises(ValueError, match=match):
        paired_bootstrap_ci(a, b, **kwargs)  # type: ignore[arg-type]
