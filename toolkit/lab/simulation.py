"""Runs on simulated time: the real collector, an injected ``now``, and a manifest that says so.

:class:`SimulatedCollectConfig` is a :class:`~toolkit.collect.CollectConfig` whose run
parameters carry ``simulated: true`` and a ``simulation`` label (the drill, or the demo
history), so every report and :func:`toolkit.history.load_history` can tell simulated runs
from observed ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.collect import CollectConfig


@dataclass(frozen=True)
class SimulatedCollectConfig(CollectConfig):
    """A collection made on simulated time; ``simulation`` labels it (``drill:NAME``, ...)."""

    simulation: str = "simulation"

    def parameters(self) -> dict[str, Any]:
        """The configuration as run parameters, with ``simulated`` and ``simulation``."""
        return {**super().parameters(), "simulated": True, "simulation": self.simulation}
