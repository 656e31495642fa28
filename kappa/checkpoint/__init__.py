"""Engine-neutral checkpoint safety, shared by the Polars and Spark engines.

- :mod:`kappa.checkpoint.lock`: one run per pipeline and checkpoint root at a time;
- :mod:`kappa.checkpoint.ownership`: engine-tagged Delta app ids, and the refusal to run a node
  whose checkpoint or tables belong to the other engine;
- :mod:`kappa.checkpoint.verdicts`: fingerprints and the verdict on a changed pipeline;
- :mod:`kappa.checkpoint.describe`: the engine-neutral description the replay engine fingerprints;
- :mod:`kappa.checkpoint.refresh`: what ``--full-refresh`` deletes (and the nodes downstream).
"""

from kappa.errors import KappaError


class CheckpointRefused(KappaError):
    """A run refused before writing anything: the checkpoint or a table cannot be continued as
    it is (a change the checkpoint cannot resume from, another engine's checkpoint or tables).
    Exit code 2: nothing ran, the command must change (``--full-refresh``, another engine)."""

    exit_code = 2


class UsageError(KappaError):
    """A command-line option names something that does not exist or misses a confirmation."""

    exit_code = 2
