"""Interval strings as Spark parses them (watermark delays, window sizes), in microseconds."""

from __future__ import annotations

import pytest

from kappa.stateful.intervals import IntervalError, delay_us, interval_us

H = 3_600_000_000


@pytest.mark.parametrize("text, us", [
    ("1 hour", H), ("10 minutes", 600_000_000), ("15 seconds", 15_000_000), ("interval 1 hour", H),
    ("INTERVAL 1 HOUR", H), ("2 days", 48 * H), ("1 day", 24 * H), ("1 week", 7 * 24 * H),
    ("1 hour 30 minutes", 90 * 60_000_000), ("  1   Hours  ", H), ("500 milliseconds", 500_000),
    ("7 microseconds", 7), ("1.5 seconds", 1_500_000), ("0.000001 second", 1), ("-1 minute", -60_000_000),
    ("1 minute -10 seconds", 50_000_000),
])
def test_interval_us(text, us):
    assert interval_us(text) == us


@pytest.mark.parametrize("text, message", [
    ("", "invalid interval ''"),
    ("ten minutes", "expected '<number> <unit>' pairs"),
    ("10 fortnights", "unknown unit 'fortnights'"),
    ("1.5 hours", "'1.5 hours' cannot have a fractional part (only seconds can)"),
    ("10minutes", "expected '<number> <unit>' pairs"),
    ("1 month", "Intervals greater than a month is not supported (1 month)."),
    ("1 year", "Intervals greater than a month is not supported (1 year)."),
])
def test_interval_errors(text, message):
    with pytest.raises(IntervalError) as err:
        interval_us(text)
    assert message in str(err.value)


def test_watermark_delay_counts_a_month_as_31_days_and_keeps_milliseconds():
    assert delay_us("1 month") == 31 * 24 * H
    assert delay_us("1 year") == 12 * 31 * 24 * H
    assert delay_us("10 minutes") == 600_000_000
    assert delay_us("1.0015 seconds") == 1_001_000  # Spark's delay is in milliseconds
    assert delay_us("interval 2 days 1 hour") == 49 * H
