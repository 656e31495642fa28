"""Case-insensitive, typed access to a Python data source's options (as Spark's own are)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kappa.errors import ConfigError

_BYTES = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class SourceOptions:
    """Options keyed by lower-case name; values kept as given (strings from Spark)."""

    items: tuple[tuple[str, str], ...]
    source: str = "data source"

    @classmethod
    def of(cls, options: Mapping[str, object], source: str = "data source") -> "SourceOptions":
        """Build from any mapping (Spark hands a CaseInsensitiveDict of strings)."""
        return cls(
            tuple(sorted((str(k).lower(), str(v)) for k, v in dict(options).items())), source
        )

    def as_dict(self) -> dict[str, str]:
        """All options, lower-case keys."""
        return dict(self.items)

    def get(self, key: str, default: str | None = None) -> str | None:
        """Option value (``key`` matched case-insensitively) or ``default``."""
        return self.as_dict().get(key.lower(), default)

    def require(self, key: str) -> str:
        """Option value or a ConfigError naming the missing option."""
        value = self.get(key)
        if value is None or value == "":
            raise ConfigError(f"{self.source}: option {key!r} is required")
        return value

    def get_int(self, key: str, default: int | None = None) -> int | None:
        """Integer option; a non-integer value raises ConfigError."""
        value = self.get(key)
        if value is None or value.strip() == "":
            return default
        try:
            return int(value.strip())
        except ValueError:
            message = f"{self.source}: option {key!r} must be an integer, not {value!r}"
            raise ConfigError(message) from None

    def get_bool(self, key: str, default: bool = False) -> bool:
        """Boolean option (true/false/1/0/yes/no)."""
        value = self.get(key)
        if value is None or value.strip() == "":
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{self.source}: option {key!r} must be true or false, not {value!r}")

    def get_bytes(self, key: str) -> int | None:
        """Size option: ``1048576``, ``512k``, ``10m``, ``1g``, ``2gb``."""
        value = self.get(key)
        if value is None or value.strip() == "":
            return None
        match = _BYTES.match(value)
        if not match:
            raise ConfigError(
                f"{self.source}: option {key!r} must be a size like 10m, not {value!r}"
            )
        return int(match.group(1)) * _UNITS[match.group(2).lower()]

    def prefixed(self, prefix: str) -> dict[str, str]:
        """Options starting with ``prefix`` (case-insensitive), prefix removed."""
        prefix = prefix.lower()
        return {k[len(prefix) :]: v for k, v in self.items if k.startswith(prefix)}
