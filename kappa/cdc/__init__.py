"""CDC MERGE sink core (AUTO CDC / APPLY CHANGES, SCD type 1 and 2) and Debezium decoding.

Modules: :mod:`kappa.cdc.merge` (``apply_changes``), :mod:`kappa.cdc.debezium`
(``decode_debezium``). Nothing heavy is imported here.
"""
