"""Offline simulation of the decision engine: synthetic or recorded traffic on a virtual
clock, the real engine, caps and pacing, a response model, and a report.

    report = run_simulation(hours=24, requests=1_000_000, seed=1, out_dir="sim-out")

`adgw simulate` is `decision.sim.cli.main`.
"""

from decision.sim.run import run_ab, run_simulation
from decision.sim.runner import SimConfig
from decision.sim.world import WorldConfig

__all__ = ["SimConfig", "WorldConfig", "run_ab", "run_simulation"]
