"""The numbers behind "can I trust this reply rate": pure functions, no I/O, no randomness.

- `wilson`: the 95% Wilson score interval of k successes in n tries. Unlike "p ± 1.96·SE" it
  stays inside [0, 1] and is honest at the small counts users have (3 replies out of 40).
- `prob_greater`: P(true rate A > true rate B) with uniform priors, i.e. posteriors
  Beta(1+k, 1+n-k). Computed exactly (a finite sum, Evan Miller's closed form), so the same
  counts always print the same probability.
- `percentile`: linear interpolation between closest ranks (what numpy and spreadsheets call
  the default / PERCENTILE.INC), so the median of 1, 2, 3, 4 hours is 2.5 hours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054
"""The two-sided 95% normal quantile."""

NOISE_LOW, NOISE_HIGH = 0.1, 0.9
"""A probability between these says the counts cannot tell the two rates apart."""
SMALL_COUNT = 10
"""Fewer delivered messages than this in a group is too few to compare, whatever the probability."""


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for k of n, or None when n is 0 (no rate to bound)."""
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def prob_beta_greater(a1: int, b1: int, a2: int, b2: int) -> float:
    """P(X > Y) for independent X ~ Beta(a1, b1), Y ~ Beta(a2, b2), integer parameters.

    The closed form sums a1 terms: sum_{i<a1} B(a2+i, b1+b2) / ((b1+i) B(1+i, b1) B(a2, b2)).
    Each term is taken in log space so large counts do not overflow."""
    if min(a1, b1, a2, b2) < 1:
        raise ValueError("Beta parameters must be whole numbers >= 1")
    base = _log_beta(a2, b2)
    total = 0.0
    for i in range(a1):
        total += math.exp(_log_beta(a2 + i, b1 + b2) - math.log(b1 + i) - _log_beta(1 + i, b1) - base)
    return min(1.0, max(0.0, total))


def prob_greater(k1: int, n1: int, k2: int, n2: int) -> float:
    """P(true rate of group 1 > true rate of group 2), given k1 of n1 and k2 of n2."""
    return prob_beta_greater(1 + k1, 1 + n1 - k1, 1 + k2, 1 + n2 - k2)


def within_noise(probability: float, n1: int, n2: int) -> bool:
    """True when the counts cannot tell the rates apart: a middling probability or few sends."""
    return NOISE_LOW < probability < NOISE_HIGH or min(n1, n2) < SMALL_COUNT


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not between 0 and 100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def rate(k: int, n: int) -> float | None:
    return k / n if n else None
