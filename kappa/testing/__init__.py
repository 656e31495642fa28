"""Test helpers for kappa pipelines: a pytest plugin with a Kafka fixture and replay helpers."""
