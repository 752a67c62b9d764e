"""The C++ post-processing (relabel, bone depth, measurements) against the numpy code it
replaced (tests/reference.py): identical results, including rounding half to even."""

import numpy as np
import pytest
import reference as ref

from cxrmt import kernels

SHAPES = [(1, 1), (1, 9), (7, 1), (13, 17), (64, 5), (130, 67)]


def random_masks(rng, shape, p=0.3):
    return (rng.random((3,) + shape) < p).astype(np.uint8)


@pytest.mark.parametrize("shape", SHAPES)
def test_relabel_matches_numpy(rng, shape):
    for p in (0.0, 0.2, 0.7, 1.0):
        masks = random_masks(rng, shape, p)
        labels = rng.integers(0, 6, shape, dtype=np.uint8)  # 4, 5: labels no organ owns, kept
        before = labels.copy()
        np.testing.assert_array_equal(kernels.relabel(labels, masks), ref.relabel(labels, masks))
        np.testing.assert_array_equal(labels, before)  # a copy, the input untouched


def test_relabel_takes_bool_and_non_contiguous_masks(rng):
    masks = rng.random((3, 20, 30)) < 0.4
    labels = rng.integers(0, 4, (20, 30), dtype=np.uint8)
    expect = ref.relabel(labels[:, ::2], masks[:, :, ::2])
    np.testing.assert_array_equal(kernels.relabel(labels[:, ::2], masks[:, :, ::2]), expect)


@pytest.mark.parametrize("input_dtype, white", [
    (np.uint8, 255), (np.uint16, 4095), (np.uint16, 1023), (np.uint16, 255), (np.uint16, 65535),
    (np.uint16, 32767.5),  # scale 0.5: every odd code is an exact half, half-even decides
    (np.float32, 1.0), (np.float16, 1.0)])
def test_bone_depth_matches_numpy_on_every_code(input_dtype, white):
    bone16 = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    got = kernels.bone_to_input_depth(bone16, input_dtype, white)
    expect = ref.bone_like_input(bone16, input_dtype, white)
    assert got.dtype == expect.dtype
    np.testing.assert_array_equal(got, expect)


def test_bone_depth_rounds_half_to_even():
    bone16 = np.array([[1, 3, 5, 7]], np.uint16)  # x 0.5 -> 0.5, 1.5, 2.5, 3.5
    np.testing.assert_array_equal(kernels.bone_to_input_depth(bone16, np.uint16, 32767.5),
                                  [[0, 2, 2, 4]])


def test_bone_depth_full_range_returns_the_input(rng):
    bone16 = rng.integers(0, 65536, (5, 7), dtype=np.uint16)
    assert kernels.bone_to_input_depth(bone16, "float32", 1.0) is bone16
    assert kernels.bone_to_input_depth(bone16, np.dtype(np.uint16), 65535) is bone16


def test_bone_depth_non_contiguous(rng):
    bone16 = rng.integers(0, 65536, (9, 14), dtype=np.uint16)[:, ::3]
    np.testing.assert_array_equal(kernels.bone_to_input_depth(bone16, np.uint8, 255),
                                  ref.bone_like_input(bone16, np.uint8, 255))


def check_measures(masks, spacing):
    got = kernels.measure(masks, spacing)
    for i, organ in enumerate(got["organs"]):
        assert organ == ref.organ_measures(masks[i], spacing)
    assert got["cardiothoracic_ratio"] == ref.cardiothoracic_ratio(masks)


@pytest.mark.parametrize("shape", SHAPES + [(200, 90)])  # 200 rows: several scan bands
@pytest.mark.parametrize("spacing", [None, (0.143, 0.143), (0.2, 0.1)])
def test_measure_matches_numpy(rng, shape, spacing):
    for p in (0.0, 0.01, 0.3, 1.0):
        check_measures(random_masks(rng, shape, p), spacing)


def test_measure_one_pixel_and_missing_organs():
    masks = np.zeros((3, 70, 40), np.uint8)
    masks[0, 69, 39] = 1                     # one-pixel heart in the last corner, no lungs
    check_measures(masks, (0.5, 0.25))
    assert kernels.measure(masks)["cardiothoracic_ratio"] is None
    masks[2, 0, 0] = 1                       # one-pixel right lung only
    check_measures(masks, None)
    assert kernels.measure(masks)["cardiothoracic_ratio"] == 1.0   # 1 column over 1 column
    masks[1, 5, 39] = 1                      # left lung: lungs span columns 0..39
    check_measures(masks, None)
    assert kernels.measure(masks)["cardiothoracic_ratio"] == 1 / 40


@pytest.mark.parametrize("call, match", [
    (lambda: kernels.relabel(np.zeros((4, 4), np.uint8), np.zeros((3, 4, 5), np.uint8)), "masks: shape"),
    (lambda: kernels.relabel(np.zeros((4, 4), np.int32), np.zeros((3, 4, 4), np.uint8)), "labels:"),
    (lambda: kernels.relabel(np.zeros((4, 4), np.uint8), np.zeros((2, 4, 4), np.uint8)), "masks:"),
    (lambda: kernels.measure(np.zeros((3, 4, 4), np.float32)), "masks: dtype"),
    (lambda: kernels.measure(np.zeros((4, 4), np.uint8)), "masks: expected shape"),
    (lambda: kernels.measure(np.zeros((3, 0, 4), np.uint8)), "masks: empty"),
    (lambda: kernels.measure(np.zeros((3, 4, 4), np.uint8), (0.0, 1.0)), "spacing_mm"),
    (lambda: kernels.measure(np.zeros((3, 4, 4), np.uint8), (float("nan"), 1.0)), "spacing_mm"),
    (lambda: kernels.bone_to_input_depth(np.zeros((4, 4), np.uint8), np.uint8, 255), "bone16:"),
    (lambda: kernels.bone_to_input_depth(np.zeros((1, 4, 4), np.uint16), np.uint8, 255), "bone16:"),
    (lambda: kernels.bone_to_input_depth(np.zeros((0, 4), np.uint16), np.uint8, 255), "bone16: empty"),
    (lambda: kernels.bone_to_input_depth(np.zeros((4, 4), np.uint16), np.int32, 255), "input_dtype"),
    (lambda: kernels.bone_to_input_depth(np.zeros((4, 4), np.uint16), np.uint16, 0), "white"),
    (lambda: kernels.bone_to_input_depth(np.zeros((4, 4), np.uint16), np.uint16, float("inf")), "white"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
