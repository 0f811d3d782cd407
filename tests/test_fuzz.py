"""Bounded fuzzing of the entry points (issue 18): hypothesis mutates the shipped scenarios (wrong types,
missing keys, extreme and non-finite numbers, huge lists, deep nesting, unknown keys) and the CLI flags of
train/serve/site, runs the real CLI in-process and asserts: exit code in {0, 2, 3}, no traceback and no
internal error, bounded time and memory. The work limits are lowered for the fuzz so an accepted input
stays small (that also exercises every limit path).

CI runs a fixed (derandomized) budget in ~25 s; `make fuzz` runs COSTSIM_FUZZ_EXAMPLES (default 3000) fresh random
inputs per test. Each module run prints how many inputs it tried.
"""

from __future__ import annotations

import math
import os
import resource
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO

FUZZ_EXAMPLES = int(os.environ.get("COSTSIM_FUZZ_EXAMPLES", "0") or 0)
# the per-test budget in CI (~30 s together on one core); `make fuzz` raises both
SCENARIO_EXAMPLES = FUZZ_EXAMPLES or 60
FLAG_EXAMPLES = FUZZ_EXAMPLES or 600
MAX_EXAMPLE_S = 120.0  # only a runaway gets near this; the limits below keep accepted inputs small
MAX_RSS_BYTES = 6 * 2**30

# base scenarios: every shipped one whose simulation is small enough for a fuzz loop
HEAVY = {"llama3-405b-pretraining.yaml", "llama3-400b-training.yaml", "gpt6-100k-h100-grid.yaml", "100k-gpu-siting.yaml",
         "llama3-70b-training-uncertainty.yaml", "small-models-lifetime.yaml"}
SCENARIOS = sorted(p for p in (REPO / "scenarios").glob("*.yaml") if p.name not in HEAVY)
BASES = {p.name: yaml.safe_load(p.read_text()) for p in SCENARIOS}

LOW_LIMITS = {"COSTSIM_MAX_SIM_REQUESTS": "4000", "COSTSIM_MAX_TIMELINE_BUCKETS": "5000", "COSTSIM_MAX_REPLICAS": "64",
              "COSTSIM_MAX_SIM_EVENTS": "5000", "COSTSIM_MAX_SIM_RUNS": "8", "COSTSIM_MAX_GPUS": "200000"}

COUNTS: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nfuzz inputs tried in this worker: {COUNTS}")  # `make fuzz` runs with -s


@pytest.fixture(autouse=True)
def _low_limits(monkeypatch, tmp_path):
    for k, v in LOW_LIMITS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("COSTSIM_LOG_DIR", str(tmp_path / "crash-logs"))


def _paths(d: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d[:5]):
            out += _paths(v, prefix + (i,))
    return out


def _deep(n: int) -> Any:
    d: Any = 1
    for _ in range(n):
        d = {"a": d}
    return d


JUNK = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 3, 7, 10**9, 10**15, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 1e-6, 1e6, 1e12, -1e9]),
    st.text(max_size=40),
    st.sampled_from(["", "x" * 3000, "../../etc/passwd", "/etc", "llama-3-8b", "h100-sxm", "auto", "sync", "none",
                     "\x00\x1b[2J", "1e400", "nan", "${HOME}", "{{7*7}}"]),
    st.lists(st.integers(-5, 10**6), max_size=2000),
    st.lists(st.floats(), max_size=20),
    st.integers(1, 200).map(_deep),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=5),
)


SCALES = [0, -1, 0.5, 2, 3, 10, 1000, 1e9, 1e-9]


def _set(d: Any, path: tuple, value: Any, op: str) -> None:
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    last = path[-1]
    if op == "delete":
        if isinstance(cur, dict):
            cur.pop(last, None)
        elif isinstance(cur, list) and len(cur) > 1:
            cur.pop(last)
    elif op == "scale":  # a plausible-looking change: the same type, another magnitude (often still valid)
        old = cur[last]
        if isinstance(old, bool) or not isinstance(old, (int, float)):
            return
        cur[last] = type(old)(old * value) if math.isfinite(old * value) and abs(old * value) < 1e300 else value
    elif op == "unknown" and isinstance(cur, dict):
        cur[f"{last}_typo"] = value
    else:
        cur[last] = value


@st.composite
def mutated_scenario(draw) -> tuple[str, dict]:
    import copy

    name = draw(st.sampled_from(sorted(BASES)))
    doc = copy.deepcopy(BASES[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc) if isinstance(doc, dict) else []
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "unknown", "scale", "scale", "scale"]))
        value = draw(st.sampled_from(SCALES)) if op == "scale" else draw(JUNK)
        try:
            _set(doc, path, value, op)
        except (KeyError, IndexError, TypeError):
            pass
    return name, doc


def _run_cli(argv: list[str], capsys) -> tuple[int, str, str, float]:
    from costsim.cli import main

    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as ei:
        main(argv)
    dt = time.perf_counter() - t0
    out, err = capsys.readouterr()
    c = ei.value.code
    code = c if isinstance(c, int) else (0 if c is None else 1)
    return code, out, err, dt


def _check(code: int, err: str, dt: float, what: str) -> None:
    assert code in (0, 2, 3), f"{what}: exit {code}: {err[-1500:]}"
    assert "Traceback" not in err and "internal error" not in err, f"{what}: {err[-1500:]}"
    assert dt < MAX_EXAMPLE_S, f"{what}: {dt:.0f} s"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert rss < MAX_RSS_BYTES, f"{what}: {rss / 2**30:.1f} GiB resident"


@settings(max_examples=SCENARIO_EXAMPLES, deadline=None, database=None, derandomize=not FUZZ_EXAMPLES,
          suppress_health_check=list(HealthCheck))
@given(case=mutated_scenario())
def test_fuzz_mutated_scenarios(case, capsys, tmp_path_factory):
    name, doc = case
    d = tmp_path_factory.mktemp("fz")
    f = d / "s.yaml"
    try:
        f.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    except (yaml.YAMLError, RecursionError, ValueError):
        return
    code, _, err, dt = _run_cli(["run", str(f), "--out", str(d / "out"), "--no-pdf", "--json"], capsys)
    _check(code, err, dt, f"{name} mutated to {str(doc)[:400]}")
    if code == 0:
        assert (d / "out" / "summary.json").is_file()
        COUNTS["scenarios_ran"] = COUNTS.get("scenarios_ran", 0) + 1
    else:
        assert not (d / "out").exists()  # a refused run writes nothing
    COUNTS["scenarios"] = COUNTS.get("scenarios", 0) + 1


FLAG_VALUES = st.one_of(
    st.sampled_from(["0", "-1", "1", "3", "8", "1e400", "-1e9", "nan", "inf", "-inf", "1e12", "0.5", "", " ", "abc",
                     "x" * 5000, "../../etc/passwd", "/etc", "/dev/zero", "llama-3-8b", "h100-sxm", "fp8", "int4",
                     "\x1b[31mred", "1,024", "0x10", "1_000", "1e-320", "us-pjm", "fr-france"]),
    st.text(max_size=30).filter(lambda s: "\x00" not in s),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(2**66), 2**66).map(str),
)

COMMANDS = {
    "train": (["--model", "llama-3-8b", "--hardware", "h100-sxm", "--gpus", "64", "--tokens", "1e12"],
              ["--model", "--hardware", "--gpus", "--tokens", "--precision", "--seq-len", "--global-batch-tokens", "--global-batch",
               "--pue", "--tp", "--pp", "--ep", "--cp", "--micro-batch", "--zero", "--recompute", "--framework", "--node",
               "--grid-gco", "--failure-rate-per-gpu-hour", "--checkpoint-time-s", "--top-k", "--power-cap-w", "--region"]),
    "serve": (["--model", "llama-3-8b", "--hardware", "h100-sxm", "--gpus", "1"],
              ["--model", "--hardware", "--gpus", "--batch", "--input-tokens", "--output-tokens", "--weight-precision",
               "--kv-precision", "--engine", "--tp", "--pp", "--ep", "--ttft-slo-s", "--tpot-slo-s", "--objective", "--runners-up",
               "--power-cap-w", "--region", "--grid-gco2e-per-kwh"]),
    "site": (["--gpus", "1024", "--hardware", "h100-sxm"],
             ["--gpus", "--hardware", "--pue", "--region", "--workload", "--grid-cap-mw", "--battery-mwh", "--battery-mw"]),
}


@settings(max_examples=FLAG_EXAMPLES, deadline=None, database=None, derandomize=not FUZZ_EXAMPLES, suppress_health_check=list(HealthCheck))
@given(cmd=st.sampled_from(sorted(COMMANDS)), data=st.data())
def test_fuzz_cli_flags(cmd, data, capsys):
    base, flags = COMMANDS[cmd]
    argv = [cmd, *base]
    for _ in range(data.draw(st.integers(1, 3))):
        flag = data.draw(st.sampled_from(flags))
        argv += [flag, data.draw(FLAG_VALUES)]
    if data.draw(st.booleans()):
        argv.append("--json")
    code, _, err, dt = _run_cli(argv, capsys)
    _check(code, err, dt, " ".join(a[:60] for a in argv))
    if dt > float(os.environ.get("COSTSIM_FUZZ_SLOW", "inf")):
        print(f"\nSLOW {dt:.2f}s exit {code}: {[a[:60] for a in argv]}")
    COUNTS["flags"] = COUNTS.get("flags", 0) + 1
