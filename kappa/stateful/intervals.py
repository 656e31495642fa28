"""Spark's interval strings (``'10 minutes'``, ``'1 hour 30 minutes'``, ``'interval 2 days'``) in
microseconds.

Design note: this follows Spark's ``IntervalUtils.stringToInterval`` (which ``withWatermark``
and ``window``/``session_window`` use): case-insensitive, an optional leading ``interval``, then
``<number> <unit>`` pairs whose values add up. Units are ``year month week day hour minute
second millisecond microsecond``, each also plural; a value may carry a sign; only seconds may
have a fractional part (up to microseconds here). A day is 24 hours. Months (a year is 12) have
no fixed length: a window refuses them as Spark does ("Intervals greater than a month is not
supported"), a watermark delay counts a month as 31 days and keeps milliseconds
(Spark's ``EventTimeWatermark.getDelayMs``).

>>> interval_us("10 minutes"), interval_us("interval 1 hour"), interval_us("2 days")
(600000000, 3600000000, 172800000000)
>>> interval_us("1 hour 30 minutes") == interval_us("90 minutes")
True
>>> interval_us("1.5 seconds")
1500000
>>> delay_us("1 month")
2678400000000
"""

from __future__ import annotations

import re

from kappa.errors import KappaError

US_PER = {
    "week": 7 * 86_400_000_000,
    "day": 86_400_000_000,
    "hour": 3_600_000_000,
    "minute": 60_000_000,
    "second": 1_000_000,
    "millisecond": 1_000,
    "microsecond": 1,
}
_MONTH_UNITS = {"year": 12, "month": 1}
_PAIR = re.compile(r"([+-]?)(\d+)(?:\.(\d+))?\s+([a-z]+)")


class IntervalError(KappaError, ValueError):
    """An interval string Spark would not parse (the message quotes it)."""


def parse_interval(text: str) -> tuple[int, int]:
    """``(months, microseconds)`` of a Spark interval string (days counted as 24 hours)."""
    if not isinstance(text, str):
        raise IntervalError(f"expected an interval string such as '10 minutes', got {text!r}")
    s = " ".join(text.strip().lower().split())
    if s.startswith("interval"):
        s = s[len("interval"):].strip()
    if not s:
        raise IntervalError(f"invalid interval {text!r}: expected '<number> <unit>', e.g. '10 minutes'")
    months = micros = pos = 0
    while pos < len(s):
        m = _PAIR.match(s, pos)
        if m is None:
            raise IntervalError(f"invalid interval {text!r}: expected '<number> <unit>' pairs, e.g. '1 hour 30 minutes'")
        sign, whole, frac, unit = m.groups()
        name = unit[:-1] if unit.endswith("s") and unit[:-1] in {**US_PER, **_MONTH_UNITS} else unit
        if name not in US_PER and name not in _MONTH_UNITS:
            raise IntervalError(f"invalid interval {text!r}: unknown unit {unit!r}")
        if frac is not None and name != "second":
            raise IntervalError(f"invalid interval {text!r}: '{whole}.{frac} {unit}' cannot have a fractional part (only seconds can)")
        if frac is not None and len(frac) > 6:
            raise IntervalError(f"invalid interval {text!r}: seconds have at most 6 decimals")
        factor = -1 if sign == "-" else 1
        if name in _MONTH_UNITS:
            months += factor * int(whole) * _MONTH_UNITS[name]
        else:
            micros += factor * int(whole) * US_PER[name]
            if frac is not None:
                micros += factor * int(frac.ljust(6, "0"))
        pos = m.end()
        if pos < len(s):
            if s[pos] != " ":
                raise IntervalError(f"invalid interval {text!r}: expected a space after {unit!r}")
            pos += 1
    return months, micros


def interval_us(text: str) -> int:
    """A window size, slide, start or session gap in microseconds (months refused, as Spark does)."""
    months, micros = parse_interval(text)
    if months:
        raise IntervalError(f"Intervals greater than a month is not supported ({text}).")
    return micros


def delay_us(text: str) -> int:
    """A watermark delay in microseconds: a month is 31 days, precision milliseconds (Spark's)."""
    months, micros = parse_interval(text)
    ms = months * 31 * 86_400_000 + (abs(micros) // 1000) * (1 if micros >= 0 else -1)  # Scala's truncation
    return ms * 1000
