"""Import contracts (``.importlinter``, checked by import-linter): the two engines never import
each other, the engine-neutral modules (Kafka, Delta, CDC, quality, checkpoints, the plan)
never import an engine, the spec models and the connector kinds import no runtime, the CLI imports no engine (runs go
through ``kappa.runner``), the CLI, runner and model modules import each other in no cycle, and
the engines never import the pydantic models (they read the typed plan). Function-level (lazy) imports count too."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept(monkeypatch, capsys):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Contracts: 7 kept, 0 broken." in out
