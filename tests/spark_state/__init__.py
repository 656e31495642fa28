"""Stateful nodes on the Spark engine (issue 11): steps in Spark's streaming plan."""
