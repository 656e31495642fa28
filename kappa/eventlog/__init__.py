"""The pipeline event log: every run and batch of every node, as rows of a Delta table.

- :mod:`kappa.eventlog.schema`: the fixed Arrow schema (every column documented);
- :mod:`kappa.eventlog.writer`: :class:`~kappa.eventlog.writer.EventLog`, the recorder the
  runner gives the engines (buffered rows, one append per flush, never fails a run);
- :mod:`kappa.eventlog.reader`: reading it back (``kappa log``).

The table lives at ``<checkpoint_root>/<pipeline>/.kappa_event_log``
(:func:`kappa.plan_layout.event_log_path`): beside the nodes' checkpoint folders and the
pipeline lock, so it is removed with the checkpoint root and is never taken for a node's
(orphaned) checkpoint. Like the rest of kappa's engine-neutral modules it imports no engine.
"""
