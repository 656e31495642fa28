"""The ``kappa`` command line. Heavy libraries are imported inside the commands."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the Typer app; kappa's own errors print without a traceback."""
    from kappa.cli.app import app
    from kappa.errors import KappaError

    try:
        app(args=argv, standalone_mode=False)
    except KappaError as exc:
        summary = getattr(exc, "summary", None)
        if summary is not None:
            print(summary.render(), file=sys.stderr)
        print(f"error: {exc}" if not exc.__class__.__name__ == "ConfigError" else str(exc), file=sys.stderr)
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click's own usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise
