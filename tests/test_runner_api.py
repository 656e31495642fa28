"""The Python API over the runner: the spec models hold no run state, ``execute()`` returns a
run result with each node's output, and a failed node raises ``RunFailed`` carrying the summary."""

from __future__ import annotations

import json

import pytest

PIPELINE = """
name: api-demo
checkpoint_root: {root}/ck
nodes:
- name: brz
  source: {{path: {root}/in/, format: JSONL}}
  expectations:
  - {{name: positive, expr: "x > 0", action: {action}}}
  sinks:
  - {{path: {root}/brz, format: DELTA}}
  - {{path: {root}/brz_q, format: DELTA, is_quarantine: true}}
"""


def _write(root, action="quarantine"):
    (root / "in").mkdir(exist_ok=True)
    (root / "in" / "a.jsonl").write_text("\n".join(json.dumps({"x": x}) for x in (1, 2, -3)) + "\n")
    text = PIPELINE.format(root=root, action=action)
    if action != "quarantine":
        text = text.replace(f"  - {{path: {root}/brz_q, format: DELTA, is_quarantine: true}}\n", "")
    return text


def test_spec_models_have_no_runtime():
    from kappa import models

    assert not hasattr(models.Pipeline, "execute") and not hasattr(models.Pipeline, "model_validate_yaml")
    assert not hasattr(models.PipelineNode, "output_df")


def test_execute_returns_the_outputs_without_writing_into_the_spec(tmp_path):
    import kappa
    from kappa.summary import RunResult

    pl = kappa.Pipeline.model_validate_yaml(_write(tmp_path))
    assert pl.nodes_dict["brz"].output_df is None
    result = pl.execute()
    assert isinstance(result, RunResult) and result.ok and pl.last_run is result
    assert result.node("brz").output_rows == 2 and result.node("brz").quarantined_rows == 1
    assert sorted(pl.nodes_dict["brz"].output_df.to_native().collect()["x"]) == [1, 2]
    assert list(pl.nodes_dict["brz"].quarantine_df.to_native().collect()["x"]) == [-3]
    assert sorted(result.output_df("brz").to_native().collect()["x"]) == [1, 2]
    # the spec node itself holds nothing of the run; a view equals it
    node = pl.nodes[0]
    assert not node.__pydantic_private__ and pl.nodes_dict["brz"] == node
    again = pl.execute()  # every run has its own result; the views read the last one
    assert again is not result and pl.last_run is again
    assert pl.nodes_dict["brz"].output_df is again.output_df("brz")


def test_runner_without_outputs_keeps_none(tmp_path):
    from kappa.api import load_pipeline_text
    from kappa.runner import replay

    result = replay(load_pipeline_text(_write(tmp_path)))
    assert result.ok and result.outputs == {} and result.output_df("brz") is None


def test_run_failed_carries_the_summary(tmp_path):
    import kappa
    from kappa.errors import ExpectationFailed, RunFailed

    pl = kappa.Pipeline.model_validate_yaml(_write(tmp_path, action="fail"))
    with pytest.raises(RunFailed) as info:
        pl.execute()
    err = info.value
    assert isinstance(err.error, ExpectationFailed) and err.__cause__ is err.error
    assert err.node == "brz" and err.exit_code == 1 and str(err) == str(err.error)
    assert err.summary.node("brz").error == str(err.error)
    assert "error: " in err.summary.render()


def test_a_replay_leaves_the_cyclic_gc_as_it_found_it(tmp_path, monkeypatch):
    """The replay freezes the objects older than the run only while it runs (kappa.runner): a failed
    run unfreezes them too, and a caller's own gc.freeze() is left alone."""
    import gc

    import kappa
    from kappa.errors import RunFailed
    from kappa.runner import replay

    seen = []

    def failing_run(*args, **kwargs):
        seen.append(gc.get_freeze_count())
        raise RunFailed(ValueError("stopped"), None)

    monkeypatch.setattr("kappa.engines.polars.engine.PolarsEngine.run", failing_run)
    assert gc.get_freeze_count() == 0
    with pytest.raises(RunFailed):
        replay(kappa.Pipeline.model_validate_yaml(_write(tmp_path)))
    assert seen[0] > 0 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        with pytest.raises(RunFailed):
            replay(kappa.Pipeline.model_validate_yaml(_write(tmp_path)))
        assert seen[1] > 0 and gc.get_freeze_count() > 0  # still the caller's (objects freed meanwhile leave it)
    finally:
        gc.unfreeze()
