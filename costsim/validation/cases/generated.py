"""What every case generator (build_*_cases.py) shares: the source file it was given, checked (exit 2 naming the file
it needs), and the generated YAML written under its provenance line."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def source_file(path: Path, flag: str, wanted: str) -> Path:
    """`path` if it is a file; otherwise exit 2 with 'give <wanted>' (also for a name the file system refuses)."""
    try:
        ok = path.is_file()
    except OSError:  # e.g. a name longer than the file system allows
        ok = False
    if not ok:
        shown = str(path) if len(str(path)) <= 200 else f"{str(path)[:60]}... ({len(str(path))} characters)"
        print(f"error: {flag} '{shown}' is not a file; give {wanted}.", file=sys.stderr)
        raise SystemExit(2)
    return path


def write_cases(out: Path, header: str, cases: list[dict]) -> None:
    """Write `cases` as YAML to `out` under `header` (comment lines ending in a newline) and say how many."""
    out.write_text(header + yaml.safe_dump(cases, sort_keys=False, width=120, allow_unicode=True))
    print(f"wrote {len(cases)} cases to {out}")
