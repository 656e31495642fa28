"""``python -m kappa.cli`` — the same as the ``kappa`` command."""

from kappa.cli import main

if __name__ == "__main__":
    main()
