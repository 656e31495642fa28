"""Loading a replication YAML file into its model, every error located by file and line.

Design note. The generic loader (:func:`kappa.config.loader.load_model_file`) locates an issue
by its field path, but splits the path at dots; ``tables`` keys are topic or table names that
hold dots (``inventory.public.customers``), so issues under ``tables.`` are re-located here
against the file's own line map. Relative paths resolve against the config file's folder
(the model records it in ``_base_dir``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kappa.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:  # pragma: no cover
    from kappa.models.replication import CdcReplication


def load_replication(path: str, variables: dict[str, Any] | None = None) -> "CdcReplication":
    """Load a replication YAML file; errors name file, line and field."""
    from kappa.config.loader import load_model_file
    from kappa.models.replication import CdcReplication

    try:
        return load_model_file(CdcReplication, path, variables=variables)
    except ConfigError as err:
        raise ConfigError([_relocate(issue, path) for issue in err.issues]) from None


def _relocate(issue: ConfigIssue, path: str) -> ConfigIssue:
    """Point an issue under ``tables.<key with dots>`` at its own line (the loader's path
    parser splits keys at dots and falls back to the ``tables:`` line)."""
    from pathlib import Path

    from kappa.config.yaml_lines import load_with_lines

    if not issue.path.startswith("tables."):
        return issue
    try:
        data, lines = load_with_lines(Path(path).read_text(encoding="utf-8"), file=str(path))
    except Exception:  # noqa: BLE001 - keep the issue as it is
        return issue
    rest = issue.path[len("tables."):]
    entries = data.get("tables") if isinstance(data, dict) else None
    keys = sorted((k for k in (entries or {}) if rest == k or rest.startswith(f"{k}.")), key=len)
    if not keys:
        return issue
    key = keys[-1]
    tail = tuple(p for p in rest[len(key):].split(".") if p)
    line = lines.line_of(("tables", key, *tail))
    return ConfigIssue(issue.message, file=issue.file, line=line, path=issue.path)
