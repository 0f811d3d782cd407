"""Load validation cases, run them through the registered runners, judge them."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from costsim.errors import InputError
from costsim.specs.base import Spec, load_yaml_document, validate_spec

CASES_DIR = Path(__file__).resolve().parent / "cases"


class Case(Spec):
    id: str = Field(..., min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
                    description="Unique case id (matches the calibration file id where one exists; 1-200 printable characters).")
    kind: str = Field(..., description="Runner that computes the prediction.")
    source: str = Field(..., description="Where the expected value was published.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Inputs for the runner.")
    metric: str = Field(..., description="Quantity compared, with its unit in the name.")
    expected: float = Field(..., gt=0, description="Published value (positive: errors are relative to it).")
    comparison: Literal["within", "at_least", "at_most"] = Field("within", description="How prediction and expected value are compared.")
    tolerance_frac: float = Field(..., ge=0, le=1, description="Allowed relative error, 0 to 1 (below 1 for at_least: "
                                  "1 would accept any prediction).")
    tolerance_reason: str = Field(..., description="Why the tolerance is what it is.")
    used_for_fit: bool = Field(False, description="True when the case was used to fit a model parameter.")
    known_gap: str | None = Field(None, description="Cause of a known miss; reported but does not fail validation.")
    notes: str | None = Field(None, description="Anything else.")
    #: the folder of the file the case came from (files a case names, e.g. a serving_sim scenario, are looked up there first)
    _folder: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _can_fail(self) -> "Case":
        if self.comparison == "at_least" and self.tolerance_frac >= 1:
            raise ValueError("an at_least case with tolerance_frac 1 or more accepts any prediction; give a tolerance below 1")
        return self


class CaseResult(Spec):
    id: str
    kind: str
    metric: str
    expected: float
    predicted: float | None
    error_frac: float | None
    tolerance_frac: float
    comparison: str
    passed: bool
    status: str = "pass"  # pass | known_gap | fail
    used_for_fit: bool
    known_gap: str | None
    source: str
    message: str | None = None


def load_cases(directory: Path | None = None) -> list[Case]:
    """Every case in the YAML files of `directory` (default: the shipped cases), or in one YAML file."""
    d = directory or CASES_DIR
    if len(str(d)) > 1024:
        raise InputError(f"--cases path is {len(str(d))} characters long; paths are at most 1024. Give a shorter path.",
                         field="--cases")
    try:
        exists = d.exists()
    except OSError as exc:  # e.g. a name component longer than the file system allows
        raise InputError(f"--cases path cannot be read: {exc.strerror}. Give a YAML file of cases or a folder of them.",
                         field="--cases") from None
    if not exists:
        raise InputError(f"validation cases '{d}' do not exist; give a YAML file of cases or a folder of them "
                         "(format: costsim/validation/cases/*.yaml).", field="--cases")
    if not d.is_file() and not d.is_dir():
        raise InputError(f"--cases '{d}' is neither a file nor a folder (a device, pipe or socket); give a YAML file of "
                         "cases or a folder of them.", field="--cases")
    files = [d] if d.is_file() else sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml"))
    if not files:
        raise InputError(f"no *.yaml files in '{d}'; give a YAML file of cases or a folder holding some.", field="--cases")
    cases: list[Case] = []
    seen: set[str] = set()
    shipped = directory is None  # costsim's own cases: libyaml's parser (2.4 MB of YAML); a user's: the pure-Python one
    for f in files:
        data = load_yaml_document(f, what="validation case", shipped=shipped) or []
        if not isinstance(data, list):
            hint = (" (a scenario? a case's scenario may sit next to its case file: give --cases the case file itself, "
                    "or keep scenarios out of the folder)" if isinstance(data, dict) and d.is_dir() else "")
            raise InputError(f"validation case file '{f}' must hold a list of cases{hint}.", field="--cases")
        for i, raw in enumerate(data):
            cid = raw.get("id") if isinstance(raw, dict) else None
            who = f"validation case '{cid}' (#{i})" if isinstance(cid, str) and 0 < len(cid) <= 200 else f"validation case #{i}"
            c = validate_spec(Case, raw, what=who, source=str(f))
            c._folder = Path(f).resolve().parent
            if c.id in seen:
                raise InputError(f"duplicate validation case id '{c.id}' in '{f}'.")
            seen.add(c.id)
            cases.append(c)
    return cases


def judge(case: Case, predicted: float) -> tuple[bool, float]:
    err = (predicted - case.expected) / case.expected if case.expected else math.inf
    if case.comparison == "at_least":
        ok = predicted >= case.expected * (1 - case.tolerance_frac)
    elif case.comparison == "at_most":
        ok = predicted <= case.expected * (1 + case.tolerance_frac)
    else:
        ok = abs(err) <= case.tolerance_frac
    return ok, err


def run_cases(cases: list[Case] | None = None) -> list[CaseResult]:
    from costsim.validation.runners import RUNNERS, check_inputs

    cases = cases if cases is not None else load_cases()
    check_inputs(cases)
    out: list[CaseResult] = []
    for c in cases:
        runner = RUNNERS.get(c.kind)
        pred: float | None = None
        msg = None
        if runner is None:
            ok, err, msg = False, None, f"no runner for kind '{c.kind}'"
        else:
            try:
                pred = float(runner(c))
                if not math.isfinite(pred):
                    raise ValueError(f"the prediction is {pred} (check the case's inputs: zero tokens, a zero batch)")
                ok, err = judge(c, pred)
            except Exception as exc:  # a runner crash is a failed case, reported, never hidden
                pred, ok, err, msg = None, False, None, f"{type(exc).__name__}: {exc}"
        # a known gap excuses a miss only; a case inside its tolerance is a plain pass
        status = "pass" if ok else ("known_gap" if c.known_gap is not None else "fail")
        out.append(CaseResult(id=c.id, kind=c.kind, metric=c.metric, expected=c.expected, predicted=pred,
                              error_frac=err, tolerance_frac=c.tolerance_frac, comparison=c.comparison,
                              passed=status != "fail", status=status, used_for_fit=c.used_for_fit,
                              known_gap=c.known_gap if not ok else None,
                              source=c.source, message=msg))
    return out


def summarize(results: list[CaseResult]) -> dict[str, Any]:
    errs = [abs(r.error_frac) for r in results if r.error_frac is not None and math.isfinite(r.error_frac)]
    held = [abs(r.error_frac) for r in results if r.error_frac is not None and not r.used_for_fit]
    return {
        "cases": len(results),
        "passed": sum(r.passed for r in results),
        "failed": sum(not r.passed for r in results),
        "known_gaps": sum(r.status == "known_gap" for r in results),
        "median_abs_error_frac": statistics.median(errs) if errs else None,
        "max_abs_error_frac": max(errs) if errs else None,
        "median_abs_error_frac_held_out": statistics.median(held) if held else None,
        "worst_case_id": max((r for r in results if r.error_frac is not None and math.isfinite(r.error_frac)),
                             key=lambda r: abs(r.error_frac)).id if errs else None,
    }


def summary_sentence(summary: dict[str, Any]) -> str:
    """The validation answer in one sentence: counts, median and worst error."""
    n, failed = summary["cases"], summary["failed"]
    head = (f"{n:,} case{'s' if n != 1 else ''}: {summary['passed']:,} pass ({summary['known_gaps']:,} of them recorded known gaps), "
            f"{failed:,} fail")
    if summary["median_abs_error_frac"] is None:
        return head + "; no case produced a prediction."
    held = summary["median_abs_error_frac_held_out"]
    return (head + f"; median |error| {100 * summary['median_abs_error_frac']:.1f} %"
            + (f" ({100 * held:.1f} % on held-out cases)" if held is not None else "")
            + f", worst {100 * summary['max_abs_error_frac']:.0f} % ({summary['worst_case_id']}).")
