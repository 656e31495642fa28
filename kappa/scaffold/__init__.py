"""``kappa init``: scaffold a project from the templates shipped in ``kappa/scaffold/templates``.

A project is a pipeline (Kafka -> bronze -> silver with expectations -> gold), its test (kappa's
pytest plugin: an embedded broker, a Polars replay, exact tables), a README of the next
commands, the pipeline's JSON Schema (``schemas/pipeline.schema.json``, which the pipeline's
first line points editors at), a ``.gitignore`` and the pytest settings.

Design note. The templates are plain files with ``.tmpl`` suffixes (so that neither pytest nor
an editor takes them for the project's own code) and one placeholder, ``__PIPELINE_NAME__``,
replaced as text: the pipeline itself uses ``${vars.x}``, which a template engine would fight.
The target folder must be new or empty: nothing is ever overwritten.

>>> project_name("My Orders!")
'My-Orders'
>>> project_name("...")
'kappa-project'
"""

from __future__ import annotations

import re
from pathlib import Path

from kappa.errors import ConfigError

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: template file -> path in the project
FILES = {
    "pipeline.yaml.tmpl": "pipeline.yaml",
    "tests/test_pipeline.py.tmpl": "tests/test_pipeline.py",
    "README.md.tmpl": "README.md",
    "pyproject.toml.tmpl": "pyproject.toml",
    "gitignore.tmpl": ".gitignore",
}
SCHEMA_FILE = "schemas/pipeline.schema.json"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-\.]*$")


def project_name(folder_name: str) -> str:
    """A valid pipeline name from a folder's name (other characters become ``-``)."""
    name = re.sub(r"[^A-Za-z0-9_\-\.]+", "-", folder_name).strip("-.")
    return name if name and _NAME.match(name) else "kappa-project"


def init_project(directory: str | Path, name: str | None = None) -> list[str]:
    """Write a new project into ``directory`` (created, or existing and empty); returns the
    project-relative paths written, in order."""
    from kappa.schemas import schema_json

    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"kappa init: {directory} exists and is not a folder")
    if root.is_dir():
        entries = sorted(p.name for p in root.iterdir())
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise ConfigError(
                f"kappa init: {directory} is not empty ({len(entries)} {'entry' if len(entries) == 1 else 'entries'}: {shown}); "
                "give a new or empty folder"
            )
    pipeline_name = name if name is not None else project_name(root.resolve().name)
    if not _NAME.match(pipeline_name):
        raise ConfigError(f"kappa init: --name {pipeline_name!r} is not a pipeline name (letters, digits, `_`, `-`, `.`)")
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for template, target in FILES.items():
        text = (TEMPLATES / template).read_text(encoding="utf-8").replace("__PIPELINE_NAME__", pipeline_name)
        _write(root / target, text)
        written.append(target)
    _write(root / SCHEMA_FILE, schema_json("pipeline"))
    written.append(SCHEMA_FILE)
    return written


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


__all__ = ["FILES", "SCHEMA_FILE", "init_project", "project_name"]
