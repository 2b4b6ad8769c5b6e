"""Files the package ships beside its code, found the same way in a checkout and in a wheel.

The repository keeps them where people look for them (``notebooks/``, ``report_templates/``,
``data/sample-portfolio/``); ``pyproject.toml`` maps those folders into the package
(``toolkit/notebooks``, ``toolkit/report_templates``, ``toolkit/sample_portfolio``) when a wheel
is built. A checkout installed with ``pip install -e .`` has no such folders inside ``toolkit/``,
so the repository's own are used.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

#: The repository's root, for a checkout.
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Name inside the package → folder in the repository.
SHIPPED: dict[str, str] = {
    "notebooks": "notebooks",
    "report_templates": "report_templates",
    "sample_portfolio": "data/sample-portfolio",
}


def shipped(name: str) -> Path:
    """The folder ``name`` (a key of :data:`SHIPPED`) as this installation has it."""
    if name not in SHIPPED:
        raise KeyError(f"no shipped folder {name!r}; known: {', '.join(sorted(SHIPPED))}")
    packaged = importlib.resources.files("toolkit") / name
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return REPO_ROOT / SHIPPED[name]
