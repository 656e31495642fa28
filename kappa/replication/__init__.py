"""CDC replication configs (``kind: cdc_replication``): a front-end that produces a pipeline.

Design note. A replication config (:class:`kappa.models.replication.CdcReplication`) is not run
by anything of its own: it is compiled into an ordinary :class:`kappa.models.Pipeline` with one
node per Debezium topic (a Kafka source with ``value_format: debezium``, one Delta sink in merge
mode), which the runner executes like any pipeline (plans, checkpoints, dead letters, run
summaries, both engines). The package is split by job:

- :mod:`kappa.replication.load`: the YAML file -> the config model, errors located by line;
- :mod:`kappa.replication.discovery`: which topics (given, or matched on the broker) and what
  their first records tell (:mod:`kappa.kafka.debezium_peek`);
- :mod:`kappa.replication.naming`: node names, ``tables`` keys and target path templates;
- :mod:`kappa.replication.compiler`: config -> pipeline (:func:`plan_replication`, which also
  reports the skipped topics, and :func:`compile_replication`).

The MERGE core it targets (:mod:`kappa.cdc`) knows nothing of this front-end; the Debezium
defaults both share are :func:`kappa.cdc.defaults.debezium_merge`. Nothing heavy is imported
here.
"""
