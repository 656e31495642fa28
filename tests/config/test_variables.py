"""``${vars.name}`` / ``${env.NAME}`` substitution, ``--var`` overrides, and secrets kept as
references in ``options`` / ``storage_options`` / ``conf`` (and ``variables``)."""

from __future__ import annotations

import pytest

from kappa.cli import main
from kappa.api import load_pipeline_file, load_pipeline_text
from kappa.config.variables import substitute
from kappa.substitution import resolve_secret_refs
from kappa.errors import ConfigError

PIPELINE = """\
name: p
variables:
  root: ./data
  batch: 100
  fmt: jsonl
nodes:
- name: a
  source:
    bootstrap_servers: ${env.KAPPA_TEST_BOOTSTRAP}
    topic: t-${vars.fmt}
    max_offsets_per_trigger: ${vars.batch}
    options:
      sasl.password: ${env.KAPPA_TEST_PW}
      sasl.username: ${vars.fmt}-user
  sinks:
  - path: ${vars.root}/a/
    format: ${vars.fmt}
"""


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("KAPPA_TEST_BOOTSTRAP", "127.0.0.1:19092")
    monkeypatch.setenv("KAPPA_TEST_PW", "pw-7d3a")


def test_substitution_types_and_text(env):
    pl = load_pipeline_text(PIPELINE)
    src, sink = pl.nodes[0].source, pl.nodes[0].sinks[0]
    assert src.bootstrap_servers == "127.0.0.1:19092"  # env in an ordinary field: resolved
    assert src.topics == ["t-jsonl"]
    assert src.max_offsets_per_trigger == 100
    assert (sink.path, sink.format) == ("./data/a/", "JSONL")
    assert src.options == {"sasl.password": "${env.KAPPA_TEST_PW}", "sasl.username": "jsonl-user"}


def test_overrides_win_over_declared_values(env):
    pl = load_pipeline_text(PIPELINE, variables={"root": "/mnt/lake", "batch": "7"})
    assert pl.nodes[0].sinks[0].path == "/mnt/lake/a/"
    assert pl.nodes[0].source.max_offsets_per_trigger == 7
    assert pl.variables == {"root": "/mnt/lake", "batch": "7", "fmt": "jsonl"}


def test_override_defines_an_otherwise_missing_variable(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "p.yaml"
    cfg.write_text("name: p\nnodes:\n- name: a\n  source: {path: '${vars.day}/in/', format: JSONL}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["validate", "p.yaml"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "p.yaml:4: nodes[0].source.path: undefined variable ${vars.day} (variables: none defined)\n"
    main(["validate", "p.yaml", "--var", "day=2024-01-01"])
    assert capsys.readouterr().out == "ok: pipeline p with 1 node(s): a\n"
    assert load_pipeline_file(cfg, variables={"day": "d1"}).nodes[0].source.path == "d1/in/"


def test_malformed_var_option_exits_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "p.yaml").write_text("name: p\nnodes:\n- name: a\n  source: {path: ./in/, format: JSONL}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["validate", "p.yaml", "--var", "day"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--var 'day': expected name=value" in err and "Traceback" not in err


def test_every_missing_reference_is_reported(monkeypatch):
    monkeypatch.delenv("KAPPA_TEST_PW", raising=False)
    monkeypatch.delenv("KAPPA_TEST_BOOTSTRAP", raising=False)
    with pytest.raises(ConfigError) as exc:
        load_pipeline_text(PIPELINE, path="p.yaml")
    assert str(exc.value) == (
        "p.yaml:9: nodes[0].source.bootstrap_servers: environment variable KAPPA_TEST_BOOTSTRAP is not set "
        "(referenced as ${env.KAPPA_TEST_BOOTSTRAP})\n"
        "p.yaml:13: nodes[0].source.options.sasl.password: environment variable KAPPA_TEST_PW is not set "
        "(referenced as ${env.KAPPA_TEST_PW})"
    )


def test_secret_refs_are_kept_and_never_dumped(env):
    pl = load_pipeline_text(PIPELINE)
    for text in (pl.model_dump_yaml(), pl.model_dump_json(), repr(pl)):
        assert "pw-7d3a" not in text
    assert "sasl.password: ${env.KAPPA_TEST_PW}" in pl.model_dump_yaml()
    # resolved only at connection time
    assert resolve_secret_refs(pl.nodes[0].source.options) == {"sasl.password": "pw-7d3a", "sasl.username": "jsonl-user"}


def test_secret_through_a_variable_stays_a_reference(monkeypatch):
    monkeypatch.setenv("KAPPA_TEST_KEY", "key-55e0")
    text = """\
name: p
variables:
  key: ${env.KAPPA_TEST_KEY}
spark:
  conf:
    spark.hadoop.fs.s3a.secret.key: ${vars.key}
nodes:
- name: a
  source: {path: ./t, format: DELTA, storage_options: {AWS_SECRET_ACCESS_KEY: "${vars.key}"}}
"""
    pl = load_pipeline_text(text)
    assert pl.variables == {"key": "${env.KAPPA_TEST_KEY}"}
    assert pl.spark.conf == {"spark.hadoop.fs.s3a.secret.key": "${env.KAPPA_TEST_KEY}"}
    assert pl.nodes[0].source.storage_options == {"AWS_SECRET_ACCESS_KEY": "${env.KAPPA_TEST_KEY}"}
    assert "key-55e0" not in pl.model_dump_yaml()
    assert resolve_secret_refs(pl.nodes[0].source.storage_options) == {"AWS_SECRET_ACCESS_KEY": "key-55e0"}


def test_variables_may_use_variables_and_env():
    data, errors = substitute({"path": "${vars.out}"}, {"root": "${env.R}", "out": "${vars.root}/out"}, {"R": "/lake"})
    assert (data, errors) == ({"path": "/lake/out"}, [])


def test_escaped_reference_is_literal_text():
    data, errors = substitute({"a": "$${vars.x}", "b": "cost: $${env.HOME} and ${vars.x}"}, {"x": 1}, {})
    assert (data, errors) == ({"a": "${vars.x}", "b": "cost: ${env.HOME} and 1"}, [])


def test_whole_reference_keeps_type_embedded_becomes_text():
    data, _ = substitute({"n": "${vars.n}", "l": "${vars.l}", "s": "x${vars.n}"}, {"n": 3, "l": [1, 2]}, {})
    assert data == {"n": 3, "l": [1, 2], "s": "x3"}


def test_references_inside_sql_are_substituted_but_placeholders_are_not(env):
    text = "name: p\nvariables: {min: 5}\nnodes:\n- name: a\n  source: {path: ./in/, format: JSONL}\n  transformer:\n  - expr: SELECT * FROM {df} WHERE x > ${vars.min}\n"
    pl = load_pipeline_text(text)
    assert pl.nodes[0].steps[0].expr == "SELECT * FROM {df} WHERE x > 5"
