"""An empty data directory for sessions over hand-made tables (nothing is written into it);
removed when the test process ends."""

import tempfile
from pathlib import Path

_DIR = tempfile.TemporaryDirectory(prefix="canbao-test-")
NOWHERE = Path(_DIR.name)
