"""The laktory seed pipeline (``pl-stock-prices``): its YAML validates unchanged, and the same
pipeline built in Python with the laktory-named models is equal to the YAML-loaded one."""

from __future__ import annotations

from pathlib import Path

from kappa import api as models  # the spec models plus YAML loading and execute()
from kappa.api import load_pipeline_file, load_pipeline_text
from kappa.graph import build_graph

SEED = Path(__file__).parents[1] / "config" / "valid" / "seed_pl_stock_prices.yaml"

# The SQL exactly as the YAML block scalar gives it (laktory's Python example indents it
# differently; the text is part of the model, so equal models need equal text).
SLV_SQL = """SELECT
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


def seed_in_python() -> models.Pipeline:
    """The seed's Python declaration, laktory style (``as_stream=False`` as in the YAML)."""
    brz = models.PipelineNode(
        name="brz_stock_prices",
        source=models.FileDataSource(path="./data/stock_prices/", format="JSONL"),
        sinks=[models.FileDataSink(path="./data/brz_stock_prices.parquet", format="PARQUET")],
    )
    slv = models.PipelineNode(
        name="slv_stock_prices",
        source=models.PipelineNodeDataSource(node_name="brz_stock_prices", as_stream=False),
        sinks=[models.FileDataSink(path="./data/slv_stock_prices.parquet", format="PARQUET")],
        transformer={
            "nodes": [
                models.DataFrameExpr(expr=SLV_SQL),
                models.DataFrameMethod(func_name="unique", func_kwargs={"subset": ["symbol", "created_at"], "keep": "any"}),
            ]
        },
    )
    return models.Pipeline(name="pl-stock-prices", dataframe_backend="POLARS", nodes=[brz, slv])


def test_seed_yaml_validates_unchanged():
    pl = load_pipeline_file(SEED)
    assert pl.name == "pl-stock-prices"
    assert pl.dataframe_backend == "POLARS"
    assert list(pl.nodes_dict) == ["brz_stock_prices", "slv_stock_prices"]
    brz, slv = pl.nodes
    assert isinstance(brz.source, models.FileDataSource)
    assert (brz.source.path, brz.source.format, brz.source.streaming) == ("./data/stock_prices/", "JSONL", False)
    assert isinstance(slv.source, models.PipelineNodeDataSource)
    assert (slv.source.node_name, slv.source.as_stream) == ("brz_stock_prices", False)
    assert [type(s).__name__ for s in slv.steps] == ["DataFrameExpr", "DataFrameMethod"]
    assert slv.steps[0].expr == SLV_SQL
    assert slv.steps[1].func_kwargs == {"subset": ["symbol", "created_at"], "keep": "any"}
    assert [(s.path, s.format) for s in slv.sinks] == [("./data/slv_stock_prices.parquet", "PARQUET")]
    assert build_graph(pl).topological_order() == ["brz_stock_prices", "slv_stock_prices"]


def test_python_models_equal_yaml():
    assert seed_in_python() == load_pipeline_file(SEED)


def test_model_validate_open_file_laktory_style():
    with open(SEED) as fp:
        pl = models.Pipeline.model_validate(fp)
    assert pl == seed_in_python()


def test_model_validate_yaml_text_and_file():
    with open(SEED) as fp:
        assert models.Pipeline.model_validate_yaml(fp.read()) == seed_in_python()
    with open(SEED) as fp:
        assert models.Pipeline.model_validate_yaml(fp) == seed_in_python()


def test_model_validate_mapping():
    import yaml

    data = yaml.safe_load(SEED.read_text())
    assert models.Pipeline.model_validate(data) == seed_in_python()


def test_seed_round_trips():
    pl = load_pipeline_file(SEED)
    text = pl.model_dump_yaml()
    again = load_pipeline_text(text)
    assert again == pl
    assert again.model_dump_yaml() == text


def test_python_model_dumps_to_loadable_yaml():
    pl = seed_in_python()
    assert load_pipeline_text(pl.model_dump_yaml()) == pl


def test_kappa_validate_accepts_the_seed(capsys):
    from kappa.cli import main

    main(["validate", str(SEED)])
    out = capsys.readouterr()
    assert out.out == "ok: pipeline pl-stock-prices with 2 node(s): brz_stock_prices, slv_stock_prices\n"
    assert out.err == ""
