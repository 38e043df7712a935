"""The report's statistics, checked against values worked out by hand or by a second method."""

from __future__ import annotations

import math

import pytest

from outreach.reports import stats


def test_wilson_interval_known_values():
    # 3 of 40 (a typical template): p = .075, centre (0.075 + 0.048) / 1.096, half 0.0863
    assert stats.wilson(3, 40) == pytest.approx((0.025836, 0.198642), abs=1e-6)
    assert stats.wilson(0, 10) == pytest.approx((0.0, 0.277533), abs=1e-6)  # no replies still has an upper bound
    assert stats.wilson(10, 10) == pytest.approx((0.722467, 1.0), abs=1e-6)
    assert stats.wilson(0, 0) is None
    with pytest.raises(ValueError):
        stats.wilson(5, 3)


def test_wilson_is_symmetric_and_narrows_with_more_data():
    low, high = stats.wilson(7, 20)
    assert (1 - high, 1 - low) == pytest.approx(stats.wilson(13, 20))
    assert stats.wilson(70, 200)[1] - stats.wilson(70, 200)[0] < high - low


def test_prob_beta_greater_closed_forms():
    assert stats.prob_beta_greater(1, 1, 1, 1) == pytest.approx(0.5)
    assert stats.prob_beta_greater(2, 1, 1, 1) == pytest.approx(2 / 3)  # integral of 2x * x
    assert stats.prob_beta_greater(1, 2, 1, 1) == pytest.approx(1 / 3)
    assert stats.prob_beta_greater(3, 1, 1, 1) == pytest.approx(3 / 4)  # integral of 3x^2 * x


def _by_integration(a1: int, b1: int, a2: int, b2: int, steps: int = 20_000) -> float:
    def log_pdf(x: float, a: int, b: int) -> float:
        return (a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    h, cdf, total = 1 / steps, 0.0, 0.0
    for i in range(steps):
        x = (i + 0.5) * h
        py = math.exp(log_pdf(x, a2, b2)) * h
        total += math.exp(log_pdf(x, a1, b1)) * h * (cdf + py / 2)
        cdf += py
    return total


@pytest.mark.parametrize("counts", [(6, 100, 9, 100), (9, 150, 6, 150), (3, 40, 1, 38), (0, 5, 0, 50), (40, 300, 25, 310)])
def test_prob_greater_matches_numerical_integration(counts):
    k1, n1, k2, n2 = counts
    exact = stats.prob_greater(k1, n1, k2, n2)
    assert exact == pytest.approx(_by_integration(1 + k1, 1 + n1 - k1, 1 + k2, 1 + n2 - k2), abs=2e-4)
    assert exact + stats.prob_greater(k2, n2, k1, n1) == pytest.approx(1.0)  # continuous: no ties


def test_prob_greater_is_deterministic_and_handles_large_counts():
    assert stats.prob_greater(600, 10_000, 540, 10_000) == stats.prob_greater(600, 10_000, 540, 10_000)
    assert 0.95 < stats.prob_greater(600, 10_000, 540, 10_000) < 1


def test_noise_rule():
    assert stats.within_noise(0.87, 100, 100)
    assert not stats.within_noise(0.95, 100, 100)
    assert not stats.within_noise(0.05, 100, 100)
    assert stats.within_noise(0.99, 4, 100)  # too few sends to say anything


def test_percentiles_interpolate_between_ranks():
    assert stats.percentile([4, 1, 3, 2], 50) == 2.5
    assert stats.percentile([1, 2, 3, 4], 90) == pytest.approx(3.7)
    assert stats.percentile([5], 90) == 5
    assert stats.percentile([], 50) is None
    assert stats.percentile([10, 20, 30], 0) == 10 and stats.percentile([10, 20, 30], 100) == 30
