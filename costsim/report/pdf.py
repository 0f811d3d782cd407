"""PDF from the HTML report with a headless Chromium already on the machine (never downloaded).

No Chromium -> `html_to_pdf` returns a one-line notice instead of a file; that is not an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--no-pdf-header-footer")


def find_chromium() -> str | None:
    env = os.environ.get("COSTSIM_CHROMIUM")
    if env and os.path.isfile(env) and os.access(env, os.X_OK):
        return env
    for c in CANDIDATES:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    for name in ("chromium", "chromium-browser"):
        w = shutil.which(name)
        if w:
            return w
    return None


def html_to_pdf(html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str], *, timeout_s: float = 120.0) -> tuple[Path | None, str | None]:
    """(pdf path, None) on success, (None, one-line notice) when it cannot be made."""
    exe = find_chromium()
    if exe is None:
        return None, "report.pdf skipped: no headless Chromium found (install Debian's `chromium` package or set COSTSIM_CHROMIUM)."
    src = Path(html_path).resolve()
    dst = Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="costsim-chromium-") as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={dst}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"report.pdf skipped: Chromium failed to run ({type(exc).__name__})."
    if proc.returncode != 0 or not dst.is_file() or dst.stat().st_size == 0:
        last = (proc.stderr or "").strip().splitlines()[-1:] or [""]
        return None, f"report.pdf skipped: Chromium exited {proc.returncode} {last[0][:160]}".rstrip()
    return dst, None
