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
