"""The ``leapfactual`` command: thin wrappers that parse, call the API and print."""
