"""The specification's `planalign_orchestrator.config` (S067-02): `load_simulation_config` and the
configuration model, which live in `planalign.simulation.config`. Kept as this thin module so that the
specification's examples run as written."""

from planalign.simulation.config import SimulationConfig
from planalign.simulation.config_loading import load_simulation_config

__all__ = ["SimulationConfig", "load_simulation_config"]
