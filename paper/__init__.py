"""The paper's experiments: benchmarks, reliability experiments and the results pages under
``docs/results/``, written as a client of leapfactual's public names.

Not part of the installed library: run from the source repository with ``python -m paper``
(``python -m paper --help`` lists the commands).
"""
