"""The compose stack stays valid without a Docker engine: ``docker compose config`` where the
compose CLI exists, else the Compose specification's own parser (the ``compose-spec`` package,
bindings of the Rust ``compose_spec`` crate), plus the stack's cross-references: every
``depends_on`` names a service, mounted files exist, the S3 settings of the ``kappa`` service
match MinIO's and the S3 replication example."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker" / "docker-compose.yml"


def _stack() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_compose_file_follows_the_compose_specification():
    from compose_spec import PyCompose

    compose = PyCompose.from_yaml(COMPOSE.read_text())
    compose.validate()
    assert compose.service_names() == ["kafka", "postgres", "connect", "minio", "minio-init", "kappa"]


def test_the_compose_parser_rejects_a_broken_service():
    from compose_spec import PyCompose

    with pytest.raises(ValueError, match="extension key `imagee` does not start with \"x-\""):
        PyCompose.from_yaml("services:\n  a:\n    imagee: x\n")


@pytest.mark.skipif(not shutil.which("docker") or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
                    reason="the docker compose CLI plugin is not installed here")
def test_docker_compose_config_accepts_the_stack():  # pragma: no cover - only where the plugin exists
    done = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_cross_references_of_the_stack():
    services = _stack()["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for volume in service.get("volumes", []):
            host = volume.split(":", 1)[0]
            if host.startswith("."):
                assert (COMPOSE.parent / host).exists(), f"{name} mounts missing {host}"
    assert _stack()["volumes"] == {"minio-data": None}


def test_the_kappa_service_reaches_minio_and_its_bucket():
    services = _stack()["services"]
    minio, env = services["minio"]["environment"], services["kappa"]["environment"]
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"])
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000" and "9000:9000" in services["minio"]["ports"]
    assert env["AWS_ALLOW_HTTP"] == "true" and env["AWS_REGION"] == "us-east-1"
    init = " ".join(services["minio-init"]["entrypoint"])
    assert "mc alias set local http://minio:9000 kappa kappa-secret" in init and "mc mb --ignore-existing local/lake" in init
    assert services["kappa"]["depends_on"]["minio-init"] == {"condition": "service_completed_successfully"}


def test_the_s3_replication_example_uses_the_stack_bucket_and_environment(monkeypatch):
    from kappa.replication.load import load_replication

    env = _stack()["services"]["kappa"]["environment"]
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    config = yaml.safe_load((REPO / "connectors" / "cdc" / "inventory-replication-s3.yaml").read_text())
    assert config["variables"]["lake"] == "s3://lake/mirror"
    assert config["target"]["storage_options"] == {key: f"${{env.{key}}}" for key in
                                                   ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ALLOW_HTTP")}
    assert set(config["target"]["storage_options"]) <= set(env)
    loaded = load_replication(str(REPO / "connectors" / "cdc" / "inventory-replication-s3.yaml"))
    assert loaded.source.topics == ["inventory.public.customers", "inventory.public.orders"]
    assert loaded.target.path == "s3://lake/mirror/{schema}/{table}"
