"""Spark (Java ``DateTimeFormatter``) datetime patterns -> chrono patterns used by Polars.

Only the common letters are supported; any other pattern letter raises
:class:`~kappa.sql.translate.UnsupportedSql` naming it, so a pattern is never silently misread.

>>> java_to_chrono("yyyy-MM-dd HH:mm:ss")
'%Y-%m-%d %H:%M:%S'
>>> java_to_chrono("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")
'%Y-%m-%dT%H:%M:%S%.f%:z'
"""

from __future__ import annotations

_LETTERS = {
    "yyyy": "%Y", "yyy": "%Y", "y": "%Y", "yy": "%y", "uuuu": "%Y",
    "M": "%m", "MM": "%m", "MMM": "%b", "MMMM": "%B",
    "L": "%m", "LL": "%m",
    "d": "%d", "dd": "%d",
    "D": "%j", "DD": "%j", "DDD": "%j",
    "H": "%H", "HH": "%H",
    "h": "%I", "hh": "%I",
    "m": "%M", "mm": "%M",
    "s": "%S", "ss": "%S",
    "a": "%p",
    "E": "%a", "EE": "%a", "EEE": "%a", "EEEE": "%A",
    "X": "%#z", "XX": "%z", "XXX": "%:z",
    "x": "%#z", "xx": "%z", "xxx": "%:z",
    "Z": "%z", "ZZ": "%z", "ZZZ": "%z", "ZZZZZ": "%:z",
}

#: letters that put a time zone offset into the pattern (the parsed value is an instant)
ZONE_LETTERS = frozenset("XxZ")


def _unsupported(msg: str) -> Exception:
    from kappa.sql.errors import UnsupportedSql

    return UnsupportedSql(msg)


def has_zone(pattern: str) -> bool:
    """Whether a Java pattern carries a zone offset (outside quoted literals)."""
    quoted = False
    for ch in pattern:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in ZONE_LETTERS:
            return True
    return False


def java_to_chrono(pattern: str, parsing: bool = True) -> str:
    """Translate a Spark datetime pattern into a chrono pattern.

    ``parsing`` selects ``%.f`` (any number of fraction digits) for ``S`` runs; when formatting,
    the run length picks ``%.3f``/``%.6f``/``%.9f``.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            j = pattern.find("'", i + 1)
            if j < 0:
                raise _unsupported(f"unterminated quote in datetime pattern {pattern!r}")
            lit = pattern[i + 1 : j] if j > i + 1 else "'"
            out.append(lit.replace("%", "%%"))
            i = j + 1
            continue
        if ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            run = pattern[i:j]
            i = j
            if ch == "S":
                dotted = bool(out) and out[-1].endswith(".")
                if dotted:
                    out[-1] = out[-1][:-1]
                if dotted and parsing:
                    out.append("%.f")
                elif len(run) in (3, 6, 9):
                    out.append(f"%.{len(run)}f" if dotted else f"%{len(run)}f")
                else:
                    raise _unsupported(f"fraction-of-second width {len(run)} in pattern {pattern!r}")
                continue
            if run not in _LETTERS:
                raise _unsupported(f"datetime pattern letters {run!r} in {pattern!r}")
            out.append(_LETTERS[run])
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)
