"""The machine a benchmark ran on, recorded beside every speed figure (README figures name it)."""

from __future__ import annotations

import os
import platform
import resource


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "memory_gib": round(mem_gib, 1) if mem_gib else None,
            "python": platform.python_version(), "os": platform.platform(terse=True),
            "load_avg_1min": os.getloadavg()[0]}


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
