"""A model released in a narrow format (ModelSpec.released_weight_precision: gpt-oss's MXFP4 experts) is searched in that
format on every part, weight-only where the part has no tensor-core rate for it; 16-bit releases search only the
hardware's native formats."""

from costsim.estimators.deployment import searched_precisions
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.requests import ServeRequest
from costsim.api.serve import serve


def test_released_format_joins_the_searched_ones():
    oss = get_model("gpt-oss-20b")
    assert oss.released_weight_precision == "mxfp4"
    assert searched_precisions(get_accelerator("a100-80gb-sxm"), oss) == ["bf16", "mxfp4"]
    assert searched_precisions(get_accelerator("h100-sxm"), oss) == ["bf16", "fp8", "mxfp4"]
    # a part with FP4 tensor cores already searches fp4, the compute form of the same 4-bit weights
    assert "mxfp4" not in searched_precisions(get_accelerator("b200"), oss)
    assert searched_precisions(get_accelerator("a100-80gb-sxm"), get_model("llama-3.1-8b")) == ["bf16"]


def test_gpt_oss_on_a_desktop_part_runs_its_released_checkpoint():
    """Strix Halo has no FP8 / FP4 matrix path: before, the search could only offer bf16 weights (26 tokens/s at batch
    1); the released MXFP4 checkpoint streams ~3.5x fewer bytes per token."""
    r = serve(ServeRequest(model="gpt-oss-20b", hardware="ryzen-ai-max-395", gpus=1, batch=1))
    assert r["deployment"]["weight_precision"] == "mxfp4"
    bf16 = serve(ServeRequest(model="gpt-oss-20b", hardware="ryzen-ai-max-395", gpus=1, batch=1, weight_precision="bf16"))
    assert r["decode_tokens_per_s"] > 2.0 * bf16["decode_tokens_per_s"]
