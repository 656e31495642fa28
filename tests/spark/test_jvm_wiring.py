"""The jvm connector profile's session wiring: the exact conf a session would start with.

Pure (no Spark started) except the last test, which starts a real local Spark in a child
process on a jar folder of empty files and expects kappa's one-line error.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kappa.engines.spark import jvm_setup
from kappa.engines.spark.jvm_setup import JvmConnectorsMissing, maven_reachable
from kappa.engines.spark.session import session_conf

SPARK = "4.2.0"
KAFKA = "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0"
DELTA = "io.delta:delta-spark_4.2_2.13:4.4.1"
CLOSURE = [
    "spark-sql-kafka-0-10_2.13-4.2.0.jar",
    "spark-token-provider-kafka-0-10_2.13-4.2.0.jar",
    "kafka-clients-3.9.1.jar",
    "commons-pool2-2.12.1.jar",
    "delta-spark_4.2_2.13-4.4.1.jar",
    "delta-storage-4.4.1.jar",
]
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
# what every local session gets (kappa.engines.spark.session.BASE_CONF + LOCAL_CONF)
LOCAL = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.python.authenticate.socketTimeout": "120s",
    "spark.python.unix.domain.socket.enabled": "true",
    "spark.sql.streaming.checkpointFileManagerClass": "org.apache.spark.sql.execution.streaming.checkpointing.FileSystemBasedCheckpointFileManager",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
}


def jar_folder(path: Path, names=CLOSURE) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in names:
        (path / name).write_bytes(b"")
    return path


def build(profile, env, conf=None, *, spark_jars_dir, reachable=False):
    calls = []

    def can_resolve(user):
        calls.append(dict(user))
        return reachable

    out, setup = session_conf("local[2]", conf, profile, env=env, spark_version=SPARK,
                              spark_jars_dir=spark_jars_dir, can_resolve=can_resolve)
    return out, setup, calls


@pytest.fixture
def bare(tmp_path):
    """Spark's own jar folder without the connectors."""
    return jar_folder(tmp_path / "spark-jars", ["spark-core_2.13-4.2.0.jar"])


def test_complete_jar_folder_sets_spark_jars_and_delta_conf(tmp_path, bare):
    folder = jar_folder(tmp_path / "jars", [*CLOSURE, "hadoop-aws-3.4.1.jar"])
    for profile in ("jvm", "auto"):
        out, setup, calls = build(profile, {"KAPPA_SPARK_JARS_DIR": str(folder)}, spark_jars_dir=bare)
        jars = ",".join(str(folder / n) for n in sorted([*CLOSURE, "hadoop-aws-3.4.1.jar"]))
        assert out == {**LOCAL, **DELTA_CONF, "spark.jars": jars}
        assert setup.profile == "jvm" and setup.packages == []
        assert setup.provided_by == {"kafka": f"jar folder {folder}", "delta": f"jar folder {folder}"}
        assert calls == []  # no network probe


def test_incomplete_jar_folder_names_the_missing_jar(tmp_path, bare):
    names = [n for n in CLOSURE if not n.startswith("delta-storage")]
    names = [n.replace("spark-token-provider-kafka-0-10_2.13-4.2.0", "spark-token-provider-kafka-0-10_2.13-4.1.0") for n in names]
    folder = jar_folder(tmp_path / "jars", names)
    for profile in ("jvm", "auto"):
        with pytest.raises(JvmConnectorsMissing) as err:
            build(profile, {"KAPPA_SPARK_JARS_DIR": str(folder)}, spark_jars_dir=bare)
        assert str(err.value) == (
            f"<config>: jvm profile: the jar folder {folder} (KAPPA_SPARK_JARS_DIR) lacks "
            "spark-token-provider-kafka-0-10_2.13-4.2.0.jar "
            "[org.apache.spark:spark-token-provider-kafka-0-10_2.13:4.2.0, kafka connector] "
            "(found spark-token-provider-kafka-0-10_2.13-4.1.0.jar: another version); "
            "delta-storage-4.4.1.jar [io.delta:delta-storage:4.4.1, delta connector]. "
            "Add these jars to the folder (e.g. `coursier fetch` or `mvn dependency:copy-dependencies` "
            "on a connected machine), or run with --profile python."
        )
    with pytest.raises(JvmConnectorsMissing, match="does not exist"):
        build("jvm", {"KAPPA_SPARK_JARS_DIR": str(tmp_path / "nope")}, spark_jars_dir=bare)


def test_packages_mode_when_a_repository_is_reachable(bare):
    out, setup, calls = build("jvm", {}, spark_jars_dir=bare, reachable=True)
    assert out == {**LOCAL, **DELTA_CONF, "spark.jars.packages": f"{KAFKA},{DELTA}"}
    assert setup.provided_by == {"kafka": "spark.jars.packages", "delta": "spark.jars.packages"}
    assert calls == [{}]


def test_no_folder_no_network_is_one_clear_error(bare):
    with pytest.raises(JvmConnectorsMissing) as err:
        build("jvm", {}, spark_jars_dir=bare, reachable=False)
    assert str(err.value) == (
        "<config>: jvm profile: the Spark 4.2.0 connector jars are not on the classpath and no Maven "
        f"repository can be reached to resolve {KAFKA}, {DELTA}. Provide them one of three ways: "
        "set KAPPA_SPARK_JARS_DIR to a folder holding spark-sql-kafka-0-10_2.13-4.2.0.jar, "
        "spark-token-provider-kafka-0-10_2.13-4.2.0.jar, kafka-clients-*.jar, commons-pool2-*.jar, "
        "delta-spark_4.2_2.13-4.4.1.jar, delta-storage-4.4.1.jar; "
        "or reach a Maven repository (spark.jars.packages is then set to those coordinates; "
        "spark.jars.repositories / spark.jars.ivySettings name a mirror); "
        "or run with --profile python (no jars needed)."
    )
    # auto without a folder: nothing added, the session is detected as python after it starts
    out, setup, calls = build("auto", {}, spark_jars_dir=bare)
    assert out == LOCAL and setup.profile is None and calls == []


def test_user_conf_wins(tmp_path, bare):
    user = {
        "spark.sql.extensions": "my.Extension",
        "spark.jars.packages": "io.delta:delta-spark_4.2_2.13:4.4.0",
        "spark.jars": "/opt/x/spark-sql-kafka-0-10_2.13-4.2.0.jar",
    }
    out, setup, calls = build("jvm", {}, user, spark_jars_dir=bare)
    assert out == {
        **LOCAL,
        "spark.sql.extensions": "my.Extension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.jars.packages": "io.delta:delta-spark_4.2_2.13:4.4.0",
        "spark.jars": "/opt/x/spark-sql-kafka-0-10_2.13-4.2.0.jar",
    }
    assert setup.provided_by == {
        "kafka": "spark.jars (/opt/x/spark-sql-kafka-0-10_2.13-4.2.0.jar)",
        "delta": "spark.jars.packages (io.delta:delta-spark_4.2_2.13:4.4.0)",
    }
    assert calls == []
    # KAPPA_SPARK_CONF is the user's too; only the connector the user left out comes from the folder
    folder = jar_folder(tmp_path / "jars", [n for n in CLOSURE if n.startswith("delta")])
    env = {"KAPPA_SPARK_JARS_DIR": str(folder), "KAPPA_SPARK_CONF": "spark.sql.catalog.spark_catalog=my.Catalog"}
    out, setup, _ = build("jvm", env, {"spark.jars.packages": KAFKA}, spark_jars_dir=bare)
    assert out == {
        **LOCAL,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "my.Catalog",
        "spark.jars.packages": KAFKA,
        "spark.jars": f"{folder / 'delta-spark_4.2_2.13-4.4.1.jar'},{folder / 'delta-storage-4.4.1.jar'}",
    }


def test_connectors_in_sparks_own_jar_folder_need_only_the_delta_conf(tmp_path):
    spark_jars = jar_folder(tmp_path / "spark-jars", ["spark-core_2.13-4.2.0.jar", *CLOSURE])
    for profile in ("jvm", "auto"):
        out, setup, _ = build(profile, {}, spark_jars_dir=spark_jars)
        assert out == {**LOCAL, **DELTA_CONF}
        assert setup.provided_by == {"kafka": "Spark's jar folder", "delta": "Spark's jar folder"}


def test_python_profile_is_untouched(tmp_path, bare):
    folder = jar_folder(tmp_path / "jars")
    for profile in ("python", None):
        out, setup, calls = build(profile, {"KAPPA_SPARK_JARS_DIR": str(folder)}, spark_jars_dir=bare)
        assert out == LOCAL and setup.profile is None and calls == []


def test_requested_profile_precedence():
    env = {"KAPPA_SPARK_PROFILE": "jvm"}
    assert jvm_setup.requested_profile("python", "auto", env) == "python"
    assert jvm_setup.requested_profile("auto", "python", env) == "jvm"
    assert jvm_setup.requested_profile(None, "python", {}) == "python"
    assert jvm_setup.requested_profile(None, "auto", {}) == "auto"


def test_maven_reachable_probes_the_repositories():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert maven_reachable({"spark.jars.repositories": f"http://127.0.0.1:{port}/maven"}, {}, timeout=1)
    assert maven_reachable({"spark.jars.ivySettings": "/etc/ivy.xml"}, {}) is True


@pytest.mark.spark
def test_session_on_a_folder_of_empty_jars_fails_with_kappas_error(tmp_path):
    """A real local Spark started with the jvm profile on unreadable jars: kappa's one error."""
    folder = jar_folder(tmp_path / "jars")
    script = textwrap.dedent(
        """
        from kappa.engines.spark.session import get_or_create_session
        from kappa.errors import KappaError
        try:
            get_or_create_session(master="local[1]", profile="jvm")
        except KappaError as exc:
            print("KAPPA:", exc)
        """
    )
    env = {**os.environ, "KAPPA_SPARK_JARS_DIR": str(folder), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("KAPPA_SPARK_CONF", None)
    proc = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True, timeout=180)
    assert proc.stdout.strip() == (
        "KAPPA: <config>: jvm profile: Spark started but cannot load "
        f"org.apache.spark.sql.kafka010.KafkaSourceProvider (kafka connector, from jar folder {folder}); "
        f"io.delta.sql.DeltaSparkSessionExtension (delta connector, from jar folder {folder}). "
        "The jars are unreadable or of other versions: replace them (KAPPA_SPARK_JARS_DIR, "
        "spark.jars.packages), or run with --profile python."
    ), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


@pytest.mark.spark
def test_unresolvable_packages_are_kappas_error_not_a_gateway_traceback(tmp_path):
    """Ivy cannot resolve the packages (a repository answers 404, the versions do not exist):
    the JVM exits at start and kappa says so in one error."""
    script = textwrap.dedent(
        f"""
        import functools, http.server, threading
        from kappa.engines.spark.session import get_or_create_session
        from kappa.errors import KappaError
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory={str(tmp_path)!r})
        handler.log_message = lambda *a: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        conf = {{
            "spark.jars.repositories": f"http://127.0.0.1:{{server.server_port}}/maven",
            "spark.jars.packages": "org.apache.spark:spark-sql-kafka-0-10_2.13:0.0.0-kappa-test,"
                                   "io.delta:delta-spark_4.2_2.13:0.0.0-kappa-test",
            "spark.jars.ivy": {str(tmp_path / "ivy")!r},
        }}
        try:
            get_or_create_session(master="local[1]", profile="jvm", conf=conf)
        except KappaError as exc:
            print("KAPPA:", exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for key in ("KAPPA_SPARK_CONF", "KAPPA_SPARK_JARS_DIR"):
        env.pop(key, None)
    proc = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == (
        "KAPPA: <config>: jvm profile: Spark could not start with spark.jars.packages="
        "org.apache.spark:spark-sql-kafka-0-10_2.13:0.0.0-kappa-test,io.delta:delta-spark_4.2_2.13:0.0.0-kappa-test "
        "(Ivy could not resolve them; its messages are above). Set KAPPA_SPARK_JARS_DIR to a folder "
        "holding the jars, or run with --profile python."
    ), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
