import sys
from pathlib import Path

# the toy explainer of the multi-process tests (tests/distributed/toys.py) serves the shard tests
sys.path.insert(0, str(Path(__file__).parent.parent / "distributed"))
