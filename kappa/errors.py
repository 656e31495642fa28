"""Error types. Every error kappa raises on purpose derives from :class:`KappaError`."""

from __future__ import annotations

from dataclasses import dataclass, field


class KappaError(Exception):
    """Base class of kappa's own errors; the CLI prints them without a traceback."""

    exit_code = 1


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file, located by file, line and field path."""

    message: str
    file: str | None = None
    line: int | None = None
    path: str = ""

    def render(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        field_part = f" {self.path}:" if self.path else ""
        return f"{where}:{field_part} {self.message}"


class ConfigError(KappaError):
    """A configuration that cannot be loaded. Renders as ``file:line: field.path: message``."""

    exit_code = 2

    def __init__(self, issues: list[ConfigIssue] | ConfigIssue | str):
        if isinstance(issues, str):
            issues = [ConfigIssue(issues)]
        elif isinstance(issues, ConfigIssue):
            issues = [issues]
        self.issues = list(issues)
        super().__init__("\n".join(i.render() for i in self.issues))


class ExpectationFailed(KappaError):
    """An expectation with action ``fail`` was violated; nothing was written."""

    def __init__(self, node: str, expectation: str, failed_rows: int):
        self.node, self.expectation, self.failed_rows = node, expectation, failed_rows
        super().__init__(
            f"node {node!r}: expectation {expectation!r} failed on {failed_rows} row(s); "
            "no sink was written"
        )


@dataclass
class RecordError(KappaError):
    """A record that could not be decoded, located by topic, partition and offset."""

    topic: str
    partition: int
    offset: int
    reason: str = field(default="")

    def __str__(self) -> str:  # pragma: no cover - trivial
        return f"{self.topic}[{self.partition}]@{self.offset}: {self.reason}"


class RunFailed(KappaError):
    """A run stopped on a node's error; carries the run's summary up to that point.

    Design note: the engines raise it around the error that stopped the node (kept as
    ``error`` and as ``__cause__``), so the CLI prints the per-node summary then one line
    naming the node. The message, ``node``, ``exit_code`` (and a config error's ``issues``) are
    the error's own, so a run failure reads exactly as the error that caused it.
    """

    def __init__(self, error: BaseException, summary: object, node: str | None = None):
        self.error = error
        self.summary = summary
        self.node = node if getattr(error, "node", None) is None else error.node  # type: ignore[attr-defined]
        self.exit_code = int(getattr(error, "exit_code", KappaError.exit_code))
        if getattr(error, "issues", None) is not None:
            self.issues = error.issues  # type: ignore[attr-defined]
        super().__init__(str(error))
        self.__cause__ = error
