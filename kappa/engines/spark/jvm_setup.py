"""What a SparkSession needs for the ``jvm`` connector profile, decided before Spark starts.

Design. The jvm profile needs two JVM connectors on the classpath -- Spark's Kafka source
(``spark-sql-kafka-0-10``) and delta-spark -- and delta-spark's two session settings
(``spark.sql.extensions`` and the ``spark_catalog`` implementation). Both are *static*: they
must be in the builder's conf when the JVM starts. :func:`connector_setup` is a pure function
of the settings (no Spark, no JVM) that says what to add, per connector, first match wins:

1. the user's own conf already provides it (``spark.jars`` names its jar, or
   ``spark.jars.packages`` its ``group:artifact``): nothing is added -- the user's conf wins;
2. Spark's own jar folder (``$SPARK_HOME/jars``, else pyspark's ``jars/``) holds it;
3. a jar folder (``KAPPA_SPARK_JARS_DIR``) is given: every ``*.jar`` in it goes to
   ``spark.jars``; the folder must hold the connector's whole closure (kafka:
   ``spark-sql-kafka-0-10``, ``spark-token-provider-kafka-0-10``, ``kafka-clients``,
   ``commons-pool2``; delta: ``delta-spark``, ``delta-storage``), else a
   :class:`JvmConnectorsMissing` names the missing files;
4. only for an explicit ``jvm`` request: the Maven coordinates go to ``spark.jars.packages``
   (Ivy resolves the closure), provided a Maven repository can be reached
   (:func:`maven_reachable`); else a :class:`JvmConnectorsMissing` names the coordinates.

When both connectors are provided, the Delta session settings are added (keys the user set,
in ``conf`` or ``KAPPA_SPARK_CONF``, are kept as the user wrote them). With ``auto``, nothing is
added unless a jar folder is given or the connectors are already provided (a session without
them is then detected as ``python``). ``python`` adds nothing. Spark Connect sessions get
nothing either: the server's classpath decides.

Coordinates and closures come from ``connectors/spark-connectors.json``
(:func:`kappa.engines.spark.profiles.load_connectors`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from kappa.engines.spark import profiles
from kappa.errors import ConfigError

CONNECTORS: tuple[str, ...] = ("kafka", "delta")
MAVEN_CENTRAL = "https://repo1.maven.org/maven2/"


class JvmConnectorsMissing(ConfigError):
    """The jvm profile was asked for but its connector jars cannot be had."""


@dataclass(frozen=True)
class Artifact:
    """One Maven artifact; ``version`` ``"*"`` means any version."""

    group: str
    name: str
    version: str

    @classmethod
    def parse(cls, coordinate: str) -> Artifact:
        parts = coordinate.strip().split(":")
        if len(parts) != 3 or not all(parts):
            raise ConfigError(f"not a Maven coordinate group:artifact:version: {coordinate!r}")
        return cls(*parts)

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.name}:{self.version}"

    @property
    def jar(self) -> str:
        """The jar's file name (``<artifact>-<version>.jar``; ``*`` for any version)."""
        return f"{self.name}-{self.version}.jar"

    def matches(self, file_name: str) -> bool:
        if self.version != "*":
            return file_name == self.jar
        rest = file_name.removeprefix(f"{self.name}-")
        return rest != file_name and rest.endswith(".jar") and rest[:1].isdigit()

    def other_versions(self, file_names: list[str]) -> list[str]:
        """Files of this artifact with another version (to say why the wanted one is missing)."""
        return [f for f in file_names if Artifact(self.group, self.name, "*").matches(f) and not self.matches(f)]


@dataclass
class ConnectorSetup:
    """What :func:`connector_setup` decided: the profile it prepares and what to add."""

    profile: str | None  # "jvm" when the session is set up for the jvm profile, else None
    jars: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    conf: dict[str, str] = field(default_factory=dict)
    provided_by: dict[str, str] = field(default_factory=dict)  # connector -> how it is provided


def closure(spark_version: str, connector: str, table: dict | None = None) -> list[Artifact]:
    """The artifacts of ``connector`` (main artifact first, then its transitive jars)."""
    table = table if table is not None else profiles.load_connectors()
    main = profiles.connector_packages(spark_version, (connector,), table)[0]
    entry = table["spark"][profiles._major_minor(spark_version)]
    extra = [c.format(spark_version=spark_version.strip()) for c in entry.get(f"{connector}_jars", [])]
    return [Artifact.parse(c) for c in [main, *extra]]


def spark_jars_folder(env: Mapping[str, str] | None = None) -> Path | None:
    """Spark's own jar folder: ``$SPARK_HOME/jars``, else the installed pyspark's ``jars/``."""
    env = os.environ if env is None else env
    if env.get("SPARK_HOME"):
        return Path(env["SPARK_HOME"]) / "jars"
    try:
        import importlib.util

        spec = importlib.util.find_spec("pyspark")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "jars"


def _names_in(folder: Path | None) -> list[str]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(p.name for p in folder.glob("*.jar"))


def _user_provides(main: Artifact, user: Mapping[str, str]) -> str | None:
    any_version = Artifact(main.group, main.name, "*")
    for item in _split(user.get("spark.jars")):
        if any_version.matches(item.rstrip("/").rsplit("/", 1)[-1]):
            return f"spark.jars ({item})"
    for item in _split(user.get("spark.jars.packages")):
        if item.startswith(f"{main.group}:{main.name}:"):
            return f"spark.jars.packages ({item})"
    return None


def _split(value: str | None) -> list[str]:
    return [x.strip() for x in (value or "").split(",") if x.strip()]


def maven_reachable(user: Mapping[str, str], env: Mapping[str, str] | None = None, timeout: float = 3.0) -> bool:
    """Can Ivy reach a repository? True when ``spark.jars.ivySettings`` is set (its own
    resolvers); else a TCP connection to Maven Central, a ``spark.jars.repositories`` host or
    the ``https_proxy`` host must open within ``timeout`` seconds."""
    env = os.environ if env is None else env
    if user.get("spark.jars.ivySettings"):
        return True
    urls = [MAVEN_CENTRAL, *_split(user.get("spark.jars.repositories"))]
    urls += [env[k] for k in ("https_proxy", "HTTPS_PROXY") if env.get(k)]
    for url in urls:
        parsed = urlparse(url if "://" in url else f"https://{url}")
        if not parsed.hostname:
            continue
        port = parsed.port or (80 if parsed.scheme == "http" else 443)
        try:
            with socket.create_connection((parsed.hostname, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def connector_setup(
    requested: str,
    spark_version: str,
    user: Mapping[str, str],
    *,
    jars_dir: str | os.PathLike | None = None,
    spark_jars_dir: Path | None = None,
    can_resolve: Callable[[Mapping[str, str]], bool] = maven_reachable,
    table: dict | None = None,
) -> ConnectorSetup:
    """Decide what a session started for profile ``requested`` (``jvm``/``python``/``auto``)
    needs; ``user`` is the user's own conf (``KAPPA_SPARK_CONF`` merged with ``conf``).
    Pure apart from the folder listings and ``can_resolve`` (see the module docstring)."""
    requested = (requested or "auto").strip().lower()
    if requested not in ("auto", *profiles.PROFILES):
        raise ConfigError(f"unknown Spark connector profile {requested!r}; use auto, jvm or python")
    if requested == "python":
        return ConnectorSetup(profile=None)
    table = table if table is not None else profiles.load_connectors()
    classpath = _names_in(spark_jars_folder() if spark_jars_dir is None else spark_jars_dir)
    setup = ConnectorSetup(profile=None)
    wanted: dict[str, list[Artifact]] = {}
    for name in CONNECTORS:
        arts = closure(spark_version, name, table)
        how = _user_provides(arts[0], user)
        if how is None and all(any(a.matches(f) for f in classpath) for a in arts):
            how = "Spark's jar folder"
        if how is None:
            wanted[name] = arts
        else:
            setup.provided_by[name] = how
    if wanted:
        if jars_dir:
            _from_folder(setup, wanted, Path(jars_dir).expanduser())
        elif requested == "jvm":
            _from_packages(setup, wanted, user, can_resolve, spark_version)
        else:
            return ConnectorSetup(profile=None, provided_by=setup.provided_by)
    setup.profile = "jvm"
    setup.conf = {k: v for k, v in profiles.delta_session_conf(table).items() if k not in user}
    return setup


def _from_folder(setup: ConnectorSetup, wanted: dict[str, list[Artifact]], folder: Path) -> None:
    if not folder.is_dir():
        raise JvmConnectorsMissing(
            f"jvm profile: the jar folder {folder} ({profiles.ENV_JARS_DIR}) does not exist"
        )
    names = _names_in(folder)
    missing = []
    for name, arts in wanted.items():
        for art in arts:
            if any(art.matches(f) for f in names):
                continue
            others = art.other_versions(names)
            note = f" (found {', '.join(others)}: another version)" if others else ""
            missing.append(f"{art.jar} [{art.coordinate}, {name} connector]{note}")
    if missing:
        raise JvmConnectorsMissing(
            f"jvm profile: the jar folder {folder} ({profiles.ENV_JARS_DIR}) lacks "
            + "; ".join(missing)
            + ". Add these jars to the folder (e.g. `coursier fetch` or `mvn dependency:copy-dependencies` "
            "on a connected machine), or run with --profile python."
        )
    setup.jars = profiles.local_jars(folder)
    for name in wanted:
        setup.provided_by[name] = f"jar folder {folder}"


def _from_packages(setup: ConnectorSetup, wanted: dict[str, list[Artifact]], user: Mapping[str, str],
                   can_resolve: Callable[[Mapping[str, str]], bool], spark_version: str) -> None:
    coords = [arts[0].coordinate for arts in wanted.values()]
    if not can_resolve(user):
        files = [a.jar for arts in wanted.values() for a in arts]
        raise JvmConnectorsMissing(
            f"jvm profile: the Spark {spark_version} connector jars are not on the classpath and no "
            f"Maven repository can be reached to resolve {', '.join(coords)}. Provide them one of three ways: "
            f"set {profiles.ENV_JARS_DIR} to a folder holding {', '.join(files)}; "
            "or reach a Maven repository (spark.jars.packages is then set to those coordinates; "
            "spark.jars.repositories / spark.jars.ivySettings name a mirror); "
            "or run with --profile python (no jars needed)."
        )
    setup.packages = coords
    for name in wanted:
        setup.provided_by[name] = "spark.jars.packages"


def requested_profile(explicit: str | None, pipeline_setting: str | None, env: Mapping[str, str] | None = None) -> str:
    """The profile asked for: an explicit (CLI) choice other than ``auto``, else env
    ``KAPPA_SPARK_PROFILE`` other than ``auto``, else the pipeline's ``connector_profile``."""
    env = os.environ if env is None else env
    for choice in (explicit, env.get(profiles.ENV_PROFILE), pipeline_setting):
        choice = (choice or "").strip().lower()
        if choice and choice != "auto":
            return choice
    return "auto"
