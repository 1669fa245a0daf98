"""The chunk-shape rules of the TensorStore methods."""
from math import prod

import pytest

from bench.chunks import FixedChunks, TargetChunks, fixed_chunk_shape, t5x_chunk_shape
from bench.methods import REGISTRY

SHAPES = [(), (1,), (7,), (64,), (32003,), (32000, 1024), (1024, 2816), (2816, 1024), (3, 5, 7), (32003, 64), (0, 5)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("target", [1, 64, 262_144, 64 * 2**20 // 2])
def test_t5x_rule_divides_the_shape_and_meets_the_target(shape, target):
    chunk = t5x_chunk_shape(shape, target)
    assert len(chunk) == len(shape)
    assert all(c >= 1 and max(d, 1) % c == 0 for c, d in zip(chunk, shape))
    assert prod(chunk) <= target


@pytest.mark.parametrize(
    "shape, target, expected",
    [
        ((32000, 1024), 262_144, [500, 512]),  # small's embedding: the largest dimension is cut first, in turn
        ((1024, 2816), 262_144, [512, 352]),
        ((32000, 1024), 64 * 2**20 // 2, [32000, 1024]),  # 62.5 MiB in float16: under T5X's target
        ((32000, 3200), 64 * 2**20 // 2, [8000, 3200]),  # openllama-3b's embedding: 195 MiB -> 48.8 MiB
        ((32003,), 1000, [1]),  # a prime has no smaller divisor than itself but 1
        ((32003, 64), 262_144, [1, 64]),
        ((64, 64), 64, [8, 8]),  # ties: the first dimension is cut first, then the other
        ((), 1, []),
    ],
)
def test_t5x_rule_on_known_shapes(shape, target, expected):
    assert t5x_chunk_shape(shape, target) == expected


def test_t5x_rule_rejects_a_target_below_one():
    with pytest.raises(ValueError, match="target_elements"):
        t5x_chunk_shape((4,), 0)


def test_fixed_rule_caps_by_the_dimension():
    assert fixed_chunk_shape((32000, 1024), 64) == [64, 64]
    assert fixed_chunk_shape((5, 1000), 64) == [5, 64]
    assert fixed_chunk_shape((), 64) == []
    assert fixed_chunk_shape((0,), 64) == [1]


def test_t5x_target_is_in_bytes_and_the_seed_chunks_target_in_elements():
    assert TargetChunks(target_bytes=64 * 2**20).elements(itemsize=2) == 32 * 2**20
    assert TargetChunks(target_bytes=64 * 2**20).elements(itemsize=4) == 16 * 2**20
    assert TargetChunks(target_elements=262_144).elements(itemsize=4) == 262_144
    assert REGISTRY["t5x"].format.chunks == TargetChunks(target_bytes=64 * 2**20)
    assert REGISTRY["ts+chunks"].format.chunks == TargetChunks(target_elements=262_144)
    assert all(REGISTRY[m].format.chunks == FixedChunks(64) for m in ("tensorstore", "ts+concurrency", "ts+compression"))
