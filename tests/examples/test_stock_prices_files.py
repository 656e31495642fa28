"""laktory's ``pl-stock-prices`` pipeline, unchanged, over generated JSONL files; and the same
pipeline built in Python with the laktory-named models."""

from __future__ import annotations

import shutil

import pytest

from kappa import api as models  # the spec models plus YAML loading and execute()

from tests.helpers.examples import EXAMPLE, expected_silver, sorted_rows

N, SEED = 2000, 3


@pytest.fixture
def workdir(gen, tmp_path, monkeypatch):
    """A working directory with ./data/stock_prices/*.jsonl and the seed's pipeline.yaml."""
    gen.write_jsonl(tmp_path / "data" / "stock_prices", N, SEED, files=2)
    shutil.copy(EXAMPLE / "pipeline_files.yaml", tmp_path / "pipeline.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def python_pipeline():
    """The laktory documentation's Python declaration, with kappa's models."""
    lk = models
    brz = lk.PipelineNode(
        name="brz_stock_prices",
        source=lk.FileDataSource(path="./data/stock_prices/", format="JSONL"),
        sinks=[lk.FileDataSink(path="./data/brz_stock_prices.parquet", format="PARQUET")],
    )
    slv = lk.PipelineNode(
        name="slv_stock_prices",
        source=lk.PipelineNodeDataSource(node_name="brz_stock_prices"),
        sinks=[lk.FileDataSink(path="./data/slv_stock_prices.parquet", format="PARQUET")],
        transformer={
            "nodes": [
                lk.DataFrameExpr(
                    expr="""
                 SELECT
                      CAST(data.created_at AS TIMESTAMP) AS created_at,
                      data.symbol AS name,
                      data.symbol AS symbol,
                      data.open AS open,
                      data.close AS close,
                      data.high AS high,
                      data.low AS low,
                      data.volume AS volume
                    FROM
                      {df}
                """
                ),
                lk.DataFrameMethod(func_name="unique", func_kwargs={"subset": ["symbol", "created_at"], "keep": "any"}),
            ]
        },
    )
    return lk.Pipeline(name="pl-stock-prices", dataframe_backend="POLARS", nodes=[brz, slv])


def test_seed_yaml_runs_unchanged(gen, workdir):
    with open("pipeline.yaml") as fp:
        pl_ = models.Pipeline.model_validate_yaml(fp)
    pl_.execute()
    out = pl_.nodes_dict["slv_stock_prices"].output_df.to_native().collect()
    want = expected_silver(gen, N, SEED, keep_bad=True)
    assert out.height == gen.expected_counts(N, SEED).silver_input
    assert sorted_rows(out).equals(sorted_rows(want))
    import polars as pl

    assert sorted_rows(pl.read_parquet("data/slv_stock_prices.parquet")).equals(sorted_rows(want))
    assert pl.read_parquet("data/brz_stock_prices.parquet").height == N


def test_model_validate_of_an_open_file_works_too(gen, workdir):
    with open("pipeline.yaml") as fp:
        pl_ = models.Pipeline.model_validate(fp)
    assert list(pl_.nodes_dict) == ["brz_stock_prices", "slv_stock_prices"]


def test_python_declaration_gives_the_same(gen, workdir):
    pl_ = python_pipeline()
    pl_.execute()
    out = pl_.nodes_dict["slv_stock_prices"].output_df.to_native().collect()
    assert sorted_rows(out).equals(sorted_rows(expected_silver(gen, N, SEED, keep_bad=True)))
    with open("pipeline.yaml") as fp:
        from_yaml = models.Pipeline.model_validate_yaml(fp)
    assert from_yaml.nodes_dict["brz_stock_prices"].model_dump() == pl_.nodes_dict["brz_stock_prices"].model_dump()
