"""What the Spark engine's source readers share (the readers: :mod:`kappa.engines.spark.connectors`).

- :class:`ReadDescription`: a reader's format, options, path and schema, the text ``kappa
  explain`` prints and the readers apply (:func:`kappa.engines.spark.compiler.describe_source`);
- :func:`_values`: option values as text, secrets redacted (descriptions) or ``${env.X}``
  references resolved (readers and writers); :func:`schema_ddl`: a declared schema as DDL;
- :class:`SourceNotReady`: a source that does not exist yet (the query starts on a later poll);
- :func:`_initial_option`, :func:`_decode_option`: the ``python`` profile's reader options that
  are not part of the description (where the initial offset is kept, where decoding runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from kappa.errors import KappaError

REDACTED = "***"


class SourceNotReady(KappaError):
    """A source that does not exist yet (e.g. an upstream Delta table nobody wrote)."""


@dataclass(frozen=True)
class ReadDescription:
    """A reader: format name, options (secrets resolved or redacted), path and schema DDL."""

    format: str | None
    options: dict[str, str]
    path: str | None = None
    schema: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "options": dict(sorted(self.options.items())), "path": self.path, "schema": self.schema}


def _is_secret(key: str) -> bool:
    from kappa.kafka.client import is_secret_key

    lowered = key.lower()
    return is_secret_key(key) or any(m in lowered for m in ("access_key", "account_key", "sas_token", "session_token"))


def _values(options: Mapping[str, Any], redact: bool) -> dict[str, str]:
    """Option values as text; secret ones redacted, or ``${env.X}`` references resolved."""
    from kappa.plan_kinds import resolve_secrets
    from kappa.engines.spark.datasources.readers import option_value

    raw = {str(k): option_value(v) for k, v in options.items()}
    if redact:
        return {k: (REDACTED if _is_secret(k) else v) for k, v in raw.items()}
    return resolve_secrets(raw)


def schema_ddl(schema: Any) -> str | None:
    """A declared schema (DDL text or ``{column: type}``) as one Spark DDL string."""
    if schema is None:
        return None
    from kappa.types import arrow_to_spark_ddl, parse_schema

    return ", ".join(f"{f.name} {arrow_to_spark_ddl(f.type)}" for f in parse_schema(schema))


def _initial_option(profile: str, checkpoint_location: str | None) -> dict[str, str]:
    """The reader option that lets kappa's Python sources keep their initial offset."""
    if profile != "python" or not checkpoint_location:
        return {}
    from kappa.engines.spark.datasources.initial import CHECKPOINT_OPTION

    return {CHECKPOINT_OPTION: checkpoint_location}


def _decode_option(spec: Any, profile: str) -> dict[str, str]:
    """python profile: the reader decodes a JSON source with a declared schema (not part of the
    description, so not of the fingerprint: it changes where decoding runs, not what it gives)."""
    if profile != "python":
        return {}
    from kappa.engines.spark.decode import decode_option

    return decode_option(spec)
