# kappa — every target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.installed

.PHONY: help venv demo test test-slow test-fast bench clean

help:
	@echo "make demo   run the stock-prices example on the embedded broker and local Delta tables"
	@echo "make test   run the test suite (without the slow crash/property drills: make test-slow)"
	@echo "make bench  run the benchmarks (make bench-state: the incremental-state benchmark)"
	@echo "make drill  the data-safety drill (kill -9, fresh starts, latest offsets, concurrent runs)"

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (this machine, CI) no
# process would cache it, and every process would compile polars, pydantic, sqlglot... again
# (measured: their imports 2.3 s -> 0.7 s). kappa's own modules get .pyc files too (a stale
# one is ignored by Python, never wrong).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv
	@$(UV) pip install -q --python $(PY) --compile-bytecode -e ".[dev,spark]"
	@$(PY) -m compileall -q -j 2 kappa > /dev/null
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) examples/stock_prices/demo.py

# two workers: one runs every Spark test (one SparkSession), the other everything else
test: $(STAMP)
	SPARK_LOCAL_IP=127.0.0.1 $(VENV)/bin/pytest -q --timeout=600 -m "not slow" -n 2 --dist loadgroup --durations=15 tests kappa --doctest-modules

# crash tests, kill -9 / SIGTERM drills and the Spark property tests (several minutes each)
test-slow: $(STAMP)
	SPARK_LOCAL_IP=127.0.0.1 $(VENV)/bin/pytest -q --timeout=1800 -m "slow and not drill" --durations=15 tests

test-fast: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow and not spark" tests

bench: $(STAMP)
	$(PY) benchmarks/replay_stock_prices.py

# incremental state: upsert gold vs full recompute, windowed throughput, dedup state bound (both engines)
.PHONY: bench-state
bench-state: $(STAMP)
	SPARK_LOCAL_IP=127.0.0.1 $(PY) benchmarks/incremental_state.py

# crash drill: kill -9, fresh starts, latest offsets, concurrent runs under a live producer
.PHONY: drill test-drill
drill: $(STAMP)
	SPARK_LOCAL_IP=127.0.0.1 $(PY) benchmarks/drill_data_safety.py

test-drill: $(STAMP)
	SPARK_LOCAL_IP=127.0.0.1 $(VENV)/bin/pytest -q --timeout=1800 -m drill tests/drills

clean:
	rm -rf $(VENV) checkpoints/*/ examples/*/data examples/*/checkpoints benchmarks/.work
