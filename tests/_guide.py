"""The user guide's Python blocks that use a given module (for the toolkits' own steps)."""

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user-guide.md"


def guide_blocks(module):
    """The source of each ``python`` block of the user guide that imports from ``module``."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    return [code for code in blocks if f"from {module} import" in code]
