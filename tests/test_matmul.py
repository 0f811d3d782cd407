import numpy as np
import pytest

from costsim.core import matmul as mm

ARGS = dict(peak_flop_per_s=989.4e12, ceiling_frac=0.835, bandwidth_bytes_per_s=3.35e12, num_compute_units=132,
            latency_s=0.0)


def test_wave_quantization_steps_at_sm_multiples():
    # 128x256 tiles: M=128*132 rows x N=256 -> exactly one full wave; one more tile -> a second, nearly empty wave
    full = mm.wave_efficiency(128 * 132, 256, 132, 128, 256)
    over = mm.wave_efficiency(128 * 133, 256, 132, 128, 256)
    assert float(full) == pytest.approx(1.0)
    assert float(over) == pytest.approx(133 / 264)
    # half the SMs idle: M=512, N=4096 -> 64 tiles on 132 SMs
    assert float(mm.wave_efficiency(512, 4096, 132, 128, 256)) == pytest.approx(64 / 132)


def test_large_shape_limit_is_the_ceiling():
    m = n = k = 128 * 256 * 4  # many full waves
    t = mm.matmul_time_s(m, n, k, **ARGS)
    rate = 2.0 * m * n * k / t
    assert rate / ARGS["peak_flop_per_s"] == pytest.approx(0.835, rel=0.01)


def test_small_gemm_pays_latency_and_memory():
    t = mm.matmul_time_s(1, 4096, 4096, **(ARGS | {"latency_s": 30e-6}))
    assert float(t) > 30e-6 + 4096 * 4096 * 2 / 3.35e12


def test_vectorized_equals_scalar():
    rng = np.random.default_rng(0)
    m, n, k = (rng.integers(1, 20000, 50).astype(float) for _ in range(3))
    vec = mm.matmul_time_s(m, n, k, **ARGS)
    sca = [float(mm.matmul_time_s(a, b, c, **ARGS)) for a, b, c in zip(m, n, k)]
    assert np.allclose(vec, sca, rtol=1e-12)


def test_partial_tiles_compute_their_padding():
    """An output narrower than a tile still computes the whole tile: N = 192 in 256-wide tiles is 75 % useful, so a
    skinny GEMM cannot reach the ceiling that a multiple-of-256 one does."""
    full = float(mm.wave_efficiency(128 * 132, 256, 132, 128, 256))
    skinny = float(mm.wave_efficiency(128 * 132, 192, 132, 128, 256))
    assert full == pytest.approx(1.0)
    assert skinny == pytest.approx(0.75)
    # best tile over the library's shapes: 192 columns fill 128-wide tiles no better (2 x 128 = 256)
    assert float(mm.tile_efficiency(128 * 132 * 8, 192, 132)) == pytest.approx(0.75, rel=0.02)
