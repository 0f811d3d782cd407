import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the installed `costsim` entry point in a subprocess (what a user runs); `env` adds variables."""
    exe = Path(sys.executable).parent / "costsim"
    cmd = [str(exe), *args] if exe.exists() else [sys.executable, "-c", "from costsim.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Streamlit's AppTest leaves sys.modules['__main__'] as the last page it ran; a later test in the same worker that
    spawns processes (Dask's nanny, multiprocessing 'spawn') then re-runs that page in each child, outside Streamlit,
    and the children die ('Nanny failed to start'). Each test gets the worker's own __main__ back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main
