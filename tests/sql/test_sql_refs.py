"""Placeholders of SQL steps: {df} and {nodes.NAME}."""

from __future__ import annotations

import pytest

from kappa.errors import KappaError
from kappa.sql.errors import SqlTemplateError
from kappa.sql.refs import node_refs, render, uses_df


def test_node_refs_in_order_unique():
    sql = "SELECT * FROM {nodes.b} JOIN {nodes.a} ON 1=1 JOIN {nodes.b} ON 1=1 WHERE x IN (SELECT y FROM {df})"
    assert node_refs(sql) == ["b", "a"]


def test_uses_df():
    assert uses_df("SELECT * FROM {df}")
    assert uses_df("SELECT * FROM { df }")
    assert not uses_df("SELECT * FROM {nodes.a}")
    assert not uses_df("SELECT '{df}' AS s FROM {nodes.a}")


def test_render_replaces_and_quotes():
    sql = "SELECT a.x FROM {df} AS a JOIN {nodes.users} AS u ON a.id = u.id JOIN {nodes.odd} o ON 1=1"
    out = render(sql, "kappa_df_1", {"users": "users_v", "odd": "my-view"})
    assert out == "SELECT a.x FROM kappa_df_1 AS a JOIN users_v AS u ON a.id = u.id JOIN `my-view` o ON 1=1"


def test_render_leaves_literals_identifiers_and_comments_alone():
    sql = (
        "SELECT '{df}' AS a, \"{nodes.zz}\" AS b, 'it''s {x}' AS c, 'esc \\' {y}' AS d, `{weird}` AS e "
        "FROM {df} -- {comment}\n/* {block} */"
    )
    out = render(sql, "t", {})
    assert out == sql.replace("FROM {df}", "FROM t")
    assert node_refs(sql) == []


def test_unknown_placeholder_is_named():
    with pytest.raises(SqlTemplateError, match=r"\{dff\}"):
        render("SELECT * FROM {dff}", "t", {})
    with pytest.raises(SqlTemplateError, match="unknown node 'missing'"):
        render("SELECT * FROM {nodes.missing}", "t", {"other": "o"})
    with pytest.raises(SqlTemplateError, match="no input DataFrame"):
        render("SELECT * FROM {df}", None, {})
    assert issubclass(SqlTemplateError, KappaError)


def test_backtick_quoting_escapes_backticks():
    assert render("SELECT * FROM {nodes.a}", None, {"a": "we`ird"}) == "SELECT * FROM `we``ird`"


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="{}abc.df nodes'\\\\", max_size=30))
def test_string_literals_are_never_rendered(body):
    literal = "'" + body.replace("\\", "\\\\").replace("'", "''") + "'"  # a valid Spark literal
    sql = f"SELECT {literal} AS x FROM {{df}}"
    assert render(sql, "t", {}) == f"SELECT {literal} AS x FROM t"
    assert node_refs(sql) == []
