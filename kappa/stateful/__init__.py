"""Checkpointed incremental state, engine-neutral: what a streaming node's stateful operators are.

:mod:`kappa.stateful.spec` holds the frozen description both engines run (watermark, streaming
dedup, windowed and incremental aggregates, output mode); :mod:`kappa.stateful.analyze` builds it
from a node's steps and checks Spark's output-mode rules. The Spark engine compiles it into
Spark's own streaming plan; the Polars replay reproduces Spark's rules with its state in the
node's checkpoint.
"""
