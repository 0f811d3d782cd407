"""Smaller frictions (issue 17 item 7): a custom model without training_tokens or max_context."""

from __future__ import annotations

import json

import pytest

CUSTOM = """id: gpt-custom
name: GPT custom 7B
n_layers: 32
d_model: 4096
n_heads: 32
d_ff: 16384
ffn_type: gelu
vocab_size: 50257
sources: ["a test"]
"""


def _run(argv, capsys):
    from costsim.cli import main

    with pytest.raises(SystemExit) as ei:
        main(argv)
    out, err = capsys.readouterr()
    return ei.value.code, out, err


def test_train_without_tokens_answers_the_step_level_questions(tmp_path, capsys):
    f = tmp_path / "gpt-custom.yaml"
    f.write_text(CUSTOM)
    code, out, err = _run(["train", "--model", str(f), "--hardware", "h100-sxm", "--gpus", "64"], capsys)
    assert code == 0, err
    assert "Whole run not computed" in out and "step time" in out
    code, out, _ = _run(["train", "--model", str(f), "--hardware", "h100-sxm", "--gpus", "64", "--json"], capsys)
    d = json.loads(out)
    assert d["whole_run_computed"] is False and d["step_time_s"] > 0 and d["mfu_frac"] > 0
    assert d["wall_time_s"] is None and d["cost_usd"] is None and d["facility_peak_power_w"] > 0
    code, out, _ = _run(["train", "--model", str(f), "--hardware", "h100-sxm", "--gpus", "64", "--tokens", "1e12", "--json"], capsys)
    d = json.loads(out)
    assert d["whole_run_computed"] is True and d["wall_time_s"] > 0


def test_max_context_has_a_default_unless_positions_are_learned(tmp_path):
    import yaml

    from costsim.errors import InputError
    from costsim.specs.base import validate_spec
    from costsim.specs.model import DEFAULT_MAX_CONTEXT, ModelSpec

    data = yaml.safe_load(CUSTOM)
    assert validate_spec(ModelSpec, data, what="model").max_context == DEFAULT_MAX_CONTEXT
    with pytest.raises(InputError, match="learned_positions needs max_context"):
        validate_spec(ModelSpec, {**data, "learned_positions": True}, what="model")
