"""``kappa schema``: the committed JSON Schemas match the models, every example validates
against the schema its first line names, and the schema accepts what the loader accepts
(references, shorthands, any-case enum values) while rejecting what it rejects."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from kappa.cli import main
from kappa.config.loader import load_model_text, load_pipeline_text
from kappa.errors import ConfigError
from kappa.models.replication import CdcReplication
from kappa.schemas import SCHEMAS, schema_json, schema_path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(REPO.glob("examples/**/*.yaml")) + sorted(REPO.glob("connectors/**/*.yaml"))
KIND_OF = {"pipeline.schema.json": "pipeline", "replication.schema.json": "replication"}


def validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_path(kind).read_text()))


def errors(kind: str, text: str) -> list[tuple[str, str]]:
    """(path, message) of each top-level schema error, sorted."""
    found = validator(kind).iter_errors(yaml.safe_load(text))
    return sorted(("/".join(map(str, e.absolute_path)), e.message) for e in found)


def leaves(error) -> list[tuple[str, str]]:
    """(path, message) of the innermost errors under ``error`` (the branches of an anyOf)."""
    if not error.context:
        return [("/".join(map(str, error.absolute_path)), error.message)]
    return [leaf for sub in error.context for leaf in leaves(sub)]


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_committed_schema_is_up_to_date(kind):
    assert schema_path(kind).read_text() == schema_json(kind), f"run: kappa schema {kind} --output {schema_path(kind).relative_to(REPO)}"


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_schema_is_valid_json_schema_with_descriptions(kind):
    schema = json.loads(schema_path(kind).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    top = "Pipeline" if kind == "pipeline" else "CdcReplication"
    assert schema["title"] == top
    assert schema["properties"]["name"]["description"].startswith(("Pipeline name", "Replication name"))


def test_kappa_schema_prints_the_committed_file(capsys):
    main(["schema"])
    assert capsys.readouterr().out == schema_path("pipeline").read_text()
    main(["schema", "replication"])
    assert capsys.readouterr().out == schema_path("replication").read_text()


def test_kappa_schema_writes_a_file(tmp_path, capsys):
    main(["schema", "pipeline", "--output", str(tmp_path / "s.json")])
    assert capsys.readouterr().out == f"wrote {tmp_path / 's.json'}\n"
    assert (tmp_path / "s.json").read_text() == schema_path("pipeline").read_text()


def test_kappa_schema_of_an_unknown_kind_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["schema", "job"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "error: schema job: expected one of pipeline, replication\n"


def test_there_are_examples():
    assert [p.relative_to(REPO).as_posix() for p in EXAMPLES] == [
        "examples/stock_prices/pipeline.yaml",
        "examples/stock_prices/pipeline_files.yaml",
        "connectors/cdc/inventory-replication-s3.yaml",
        "connectors/cdc/inventory-replication.yaml",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_example_names_its_schema_and_validates(path):
    first = path.read_text().splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    schema_file = (path.parent / first[len(prefix):]).resolve()
    kind = KIND_OF[schema_file.name]
    assert schema_file == schema_path(kind)
    assert errors(kind, path.read_text()) == []


@pytest.mark.parametrize("path", sorted((REPO / "tests" / "config" / "valid").glob("*.yaml")), ids=lambda p: p.name)
def test_valid_test_pipelines_validate(path):
    assert errors("pipeline", path.read_text()) == []


LOADER_ACCEPTS = """\
name: p
variables: {n: 5, stream: true, fmt: csv}
trigger: {processing_time: 5 seconds}
nodes:
- name: a
  source: {topic: t, bootstrap_servers: b, format: JSON, max_offsets_per_trigger: "${vars.n}", as_stream: "${vars.stream}",
           starting_offsets: {t: {"0": "${vars.n}"}}}
  trigger: once
  output_mode: UPDATE
  transformer:
  - expr: SELECT *, 1 AS n FROM {df}
  expectations:
  - {name: e, expr: n > 0, action: DROP}
  sinks:
  - {path: out, format: delta, mode: UPSERT, keys: [n]}
- name: b
  source: {path: in/, format: "${vars.fmt}"}
  sinks:
  - {path: out.jsonl, format: ndjson, mode: Append}
"""


def test_references_and_shorthands_the_loader_accepts_validate():
    load_pipeline_text(LOADER_ACCEPTS, path="p.yaml")  # the loader takes it ...
    assert errors("pipeline", LOADER_ACCEPTS) == []  # ... and so does the schema


@pytest.mark.parametrize("old, new, expected", [
    ("  trigger: once\n", "  sinkz: []\n  trigger: once\n", ("nodes/0", "Additional properties are not allowed ('sinkz' was unexpected)")),
    ("max_offsets_per_trigger: \"${vars.n}\"", "max_offsets_per_trigger: five", ("nodes/0/source/max_offsets_per_trigger", "'five' is not of type 'integer'")),
    ("action: DROP", "action: dropp", ("nodes/0/expectations/0/action", "'dropp' is not one of ['warn', 'drop', 'quarantine', 'fail']")),
    ("name: a\n", "name: a b\n", ("nodes/0/name", "'a b' does not match '^[A-Za-z_][A-Za-z0-9_\\\\-]*$'")),
])
def test_what_the_loader_rejects_the_schema_rejects(old, new, expected):
    text = LOADER_ACCEPTS.replace(old, new)
    with pytest.raises(ConfigError):
        load_pipeline_text(text, path="p.yaml")
    found = [leaf for e in validator("pipeline").iter_errors(yaml.safe_load(text)) for leaf in leaves(e)]
    assert expected in found


def test_kafka_source_takes_topic_or_topics_not_both():
    both = LOADER_ACCEPTS.replace("{topic: t,", "{topic: t, topics: [u],")
    with pytest.raises(ConfigError):
        load_pipeline_text(both, path="p.yaml")
    assert errors("pipeline", both)[0][0] == "nodes"
    neither = LOADER_ACCEPTS.replace("{topic: t,", "{")
    assert errors("pipeline", neither)[0][0] == "nodes"


def test_replication_schema_accepts_references():
    text = (REPO / "connectors/cdc/inventory-replication.yaml").read_text()
    text = text.replace("variables:\n", "variables:\n  retries: 3\n").replace("defaults:\n", "defaults:\n  max_commit_retries: ${vars.retries}\n")
    assert "max_commit_retries: ${vars.retries}" in text
    assert load_model_text(CdcReplication, text, path="r.yaml").defaults.max_commit_retries == 3
    assert errors("replication", text) == []
