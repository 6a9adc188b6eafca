"""Make the example distribution under dist_hello/ importable, as `pip install -e` would for its author."""

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent / "dist_hello"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))
