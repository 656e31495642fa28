"""Every file in ``invalid/`` fails ``kappa validate`` with exit code 2 and exactly its message.

Each ``invalid/<name>.yaml`` has a sidecar ``invalid/<name>.expected`` holding the full stderr
text. The parametrised test runs the CLI in-process (``kappa.cli.main``); a few cases also run
the installed ``kappa`` executable to prove the real process prints no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kappa.cli import main

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(p.stem for p in INVALID.glob("*.yaml"))
UNSET_ENV = ("KAPPA_TEST_UNSET_DATA_DIR", "KAPPA_TEST_UNSET_SECRET")
KAPPA_EXE = Path(sys.executable).with_name("kappa")


def run_in_process(capsys, *args: str) -> tuple[int, str, str]:
    """``kappa ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:
        code = 0
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def in_invalid_dir(monkeypatch):
    monkeypatch.chdir(INVALID)
    for name in UNSET_ENV:
        monkeypatch.delenv(name, raising=False)


def test_there_are_enough_cases():
    assert len(CASES) >= 25
    for name in CASES:
        assert (INVALID / f"{name}.expected").is_file(), f"{name}.yaml has no .expected sidecar"


@pytest.mark.parametrize("name", CASES)
def test_invalid_config_message(name, capsys, in_invalid_dir):
    expected = (INVALID / f"{name}.expected").read_text(encoding="utf-8")
    code, out, err = run_in_process(capsys, "validate", f"{name}.yaml")
    assert code == 2
    assert out == ""
    assert err == expected
    assert err.startswith(f"{name}.yaml:")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "name",
    ["cycle", "unknown_key_did_you_mean", "yaml_syntax_error", "unset_env_in_secret_options", "not_utf8"],
)
def test_real_process_exit_code_and_no_traceback(name):
    assert KAPPA_EXE.is_file(), KAPPA_EXE
    env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    proc = subprocess.run(
        [str(KAPPA_EXE), "validate", f"{name}.yaml"], cwd=INVALID, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (INVALID / f"{name}.expected").read_text(encoding="utf-8")
    assert "Traceback" not in proc.stderr


def test_missing_file_is_a_config_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_in_process(capsys, "validate", "nowhere.yaml")
    assert (code, out, err) == (2, "", "nowhere.yaml: cannot read the file: No such file or directory\n")


def test_every_issue_names_file_line_and_field(capsys, in_invalid_dir):
    """Apart from whole-file problems, each message line is ``file:line: field.path: message``."""
    whole_file = {"empty_file", "only_comments", "top_level_list", "not_utf8"}
    for name in CASES:
        for line in (INVALID / f"{name}.expected").read_text(encoding="utf-8").splitlines():
            file, lineno, rest = line.split(":", 2)
            assert file == f"{name}.yaml" and lineno.isdigit(), line
            if name not in whole_file and not rest.startswith(" invalid YAML"):
                field = rest.split(":", 1)[0].strip()
                assert field and " " not in field, line


@pytest.mark.parametrize("name", ["cycle", "missing_required_field", "yaml_duplicate_key", "enum_sink_format"])
def test_model_validate_open_file_reports_the_same(name, in_invalid_dir):
    """laktory-style ``Pipeline.model_validate(open_file)`` raises the same located issues."""
    from kappa.errors import ConfigError
    from kappa.api import Pipeline

    with open(f"{name}.yaml") as fp, pytest.raises(ConfigError) as exc:
        Pipeline.model_validate(fp)
    assert str(exc.value) + "\n" == (INVALID / f"{name}.expected").read_text(encoding="utf-8")
    assert exc.value.exit_code == 2
