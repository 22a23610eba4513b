"""The ``python -m paper`` command line: one module per experiment command."""
