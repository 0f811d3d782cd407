"""Registry of validation runners: kind -> function(case) -> predicted value.

Each domain adds its runners in its own module (training.py, inference.py, power.py) through
`register(RUNNERS)`; this module imports them so `costsim validate` sees every case.
"""

from __future__ import annotations

from typing import Callable

from costsim.validation.engine import Case

RUNNERS: dict[str, Callable[[Case], float]] = {}


def _load() -> None:
    import importlib

    for name in ("training", "inference", "power", "serving"):
        try:
            mod = importlib.import_module(f"costsim.validation.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"costsim.validation.{name}":
                continue
            raise
        mod.register(RUNNERS)


_load()
