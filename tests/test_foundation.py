"""Foundation: catalogs load, parameter counts match reported sizes, CLI JSON, bad inputs."""

import json
import subprocess
import sys

import pytest

from costsim.specs import catalog
from costsim.specs.model import ModelSpec

REQUIRED_MODELS = """llama-1-65b llama-2-7b llama-2-13b llama-2-70b llama-3-8b llama-3-70b llama-3.1-8b llama-3.1-70b
llama-3.1-405b phi-3-mini phi-3-small phi-3-medium phi-3.5-moe grok-1 dbrx mixtral-8x7b mixtral-8x22b gpt-3-175b
chinchilla-70b gemma-2-9b gemma-2-27b qwen2.5-7b qwen2.5-72b deepseek-v3 mistral-7b falcon-180b bloom-176b opt-175b
qwen3-8b qwen3-14b qwen3-32b qwen3-30b-a3b gemma-3-12b gemma-3-27b qwen3-235b-a22b
llama-4-scout llama-4-maverick kimi-k2 qwen3-coder-480b-a35b deepseek-v2-lite glm-4.5-air glm-4.5
llama-3.2-1b llama-3.2-3b llama-3.3-70b qwen3-0.6b qwen3-1.7b qwen3-4b qwen2.5-14b qwen2.5-32b mistral-large-2
mistral-small-3.1-24b gpt-j-6b""".split()

REQUIRED_HARDWARE = """v100-sxm2 a100-40gb-sxm a100-80gb-sxm a100-80gb-pcie l4 l40s h100-sxm h100-pcie h100-nvl h800 h200
h20 b200 b300 gb200 rtx-4090 mi250x mi300x mi325x mi355x gaudi2 gaudi3 tpu-v4 tpu-v5e tpu-v5p tpu-v6e trainium1
trainium2 inferentia2 apple-a16 apple-a17-pro apple-m1 apple-m1-max apple-m2 apple-m2-ultra apple-m3-pro apple-m3-max
apple-m4-pro apple-m4-max snapdragon-8-gen-3 jetson-agx-orin""".split()


@pytest.mark.parametrize("mid", REQUIRED_MODELS)
def test_model_parameter_count_matches_reported(mid):
    m = catalog.get_model(mid)
    err = m.params_total / m.params_total_reported - 1
    if abs(err) > 0.02:
        assert m.param_count_gap_reason, f"{mid}: {100*err:+.1f}% off the reported size with no recorded reason"
    active_err = m.params_active / m.params_active_reported - 1 if m.params_active_reported else 0.0
    if abs(err) <= 0.02:  # a recorded reason must explain a gap somewhere: total beyond 1 % or active beyond 2 %
        assert m.param_count_gap_reason is None or abs(err) > 0.01 or abs(active_err) >= 0.02, \
            f"{mid}: gap reason recorded but sizes agree"
    assert abs(active_err) < 0.02 or m.param_count_gap_reason, f"{mid}: active {100 * active_err:+.1f}% with no recorded reason"


def test_hand_computed_llama3_8b():
    m = catalog.get_model("llama-3-8b")
    d, L, dff, v = 4096, 32, 14336, 128256
    attn = d * 32 * 128 + 2 * d * 8 * 128 + 32 * 128 * d
    expected = L * (attn + 3 * d * dff + 2 * d) + 2 * v * d + d
    assert m.params_total == expected
    assert m.kv_elements_per_token_per_layer() == 2 * 8 * 128


def test_moe_active_params_and_mla():
    mix = catalog.get_model("mixtral-8x7b")
    assert mix.params_active < mix.params_total / 3
    ds = catalog.get_model("deepseek-v3")
    assert ds.attention_type == "mla"
    assert ds.kv_elements_per_token_per_layer() == 512 + 64


def test_model_yaml_defaults(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text("name: tiny\nn_layers: 2\nd_model: 64\nn_heads: 4\nd_ff: 256\nffn_type: gelu\nvocab_size: 100\nmax_context: 128\n")
    m = catalog.get_model(str(p))
    assert m.kv_heads == 4 and m.hd == 16 and m.n_experts == 1 and not m.tied_embeddings
    assert m.params_total == 2 * (4 * 64 * 64 + 2 * 64 * 256 + 2 * 64) + 2 * 100 * 64 + 64


def test_model_cross_field_check_message():
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        ModelSpec(name="x", n_layers=1, d_model=64, n_heads=6, n_kv_heads=4, d_ff=10, ffn_type="gelu", vocab_size=10, max_context=8)


def test_cli_models_list_json_has_every_id(cli):
    r = cli("models", "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    ids = {x["id"] for x in rows}
    assert set(REQUIRED_MODELS) <= ids
    for x in rows:
        assert x["params_total"] > 0 and x["params_active"] > 0 and x["name"]


def test_cli_hardware_list_json_has_every_id_with_sources(cli):
    r = cli("hardware", "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    ids = {x["id"] for x in rows}
    missing = set(REQUIRED_HARDWARE) - ids
    assert not missing, f"missing hardware ids: {sorted(missing)}"
    for x in rows:
        assert x["sources"], x["id"]
        assert x["memory_bytes"] > 0 and x["memory_bandwidth_bytes_per_s"] > 0 and x["tdp_w"] > 0
        assert any(v for v in x["peak_flop_per_s"].values())


def test_cli_show_json(cli):
    r = cli("hardware", "show", "h100-sxm", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["peak_flop_per_s"]["bf16"] == pytest.approx(989.4e12)
    r = cli("models", "show", "llama-3-70b", "--json")
    assert json.loads(r.stdout)["params_total"] == pytest.approx(70.55e9, rel=1e-3)


def test_cli_show_reads_as_labelled_text(cli):
    """Without --json the show commands answer in a sentence and labelled tables with units, not a dict dump."""
    r = cli("models", "show", "deepseek-v3")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("DeepSeek-V3: 671B parameters") and "mixture-of-experts" in first
    assert "KV cache per token" in r.stdout and "kB" in r.stdout and "{" not in r.stdout
    r = cli("hardware", "show", "h100-sxm")
    assert r.returncode == 0, r.stderr
    assert "scale-up bandwidth per direction" in r.stdout and "GB/s" in r.stdout and "rental per device-hour" in r.stdout
    assert "'memory_gb'" not in r.stdout and "{" not in r.stdout
    r = cli("hardware", "show", "inferentia2")  # a ring fabric says so, with its per-hop latency
    assert "ring instead of a switch" in r.stdout and "latency per hop" in r.stdout


@pytest.mark.parametrize("args, needle", [
    (("hardware", "show", "h1000"), "h100-sxm?"),
    (("models", "show", "llama-3-7b"), "unknown model 'llama-3-7b'"),
    (("models", "show", "/nonexistent/model.yaml"), "does not exist"),
])
def test_cli_bad_ids_exit_2_without_traceback(cli, args, needle):
    r = cli(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_cli_malformed_and_wrong_field_yaml(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nn_layers: [1, 2\n")
    r = cli("models", "show", str(bad))
    assert r.returncode == 2 and "malformed YAML" in r.stderr and str(bad) in r.stderr and "line" in r.stderr
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("name: x\nn_layers: two\nd_model: 64\nn_heads: 4\nd_ff: 256\nffn_type: gelu\nvocab_size: 100\nmax_context: 128\nflavour: 1\n")
    r = cli("models", "show", str(wrong))
    assert r.returncode == 2
    assert "n_layers" in r.stderr and "flavour" in r.stderr and str(wrong) in r.stderr
    assert "Traceback" not in r.stderr
    missing = tmp_path / "missing.yaml"
    missing.write_text("name: x\n")
    r = cli("models", "show", str(missing))
    assert r.returncode == 2 and "d_model" in r.stderr and "missing" in r.stderr


def test_import_layers_contract():
    """lower layers never import higher ones; only the UI imports streamlit (import-linter)."""
    import shutil
    from pathlib import Path

    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        exe = shutil.which("lint-imports")
    r = subprocess.run([str(exe)], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stdout[-3000:]
