"""RGBPose-Conv3D inputs (``transforms/rgb_inputs.py``): golden values of pyskl's test pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from posebeam.transforms.rgb_inputs import (
    RGBPoseSpec,
    crop_with_padding,
    normalize,
    resize_image,
    rgb_positions,
    rgbpose_inputs,
)

SPEC = RGBPoseSpec(rgb_size=64)


def _pyskl_compact_image(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """pyskl ``MMCompact._compact_images`` for one image, as written there: pad, then slice."""
    h, w = image.shape[:2]
    min_x, min_y, max_x, max_y = box
    pad_l = pad_u = pad_r = pad_d = 0
    if min_x < 0:
        pad_l = -min_x
        min_x, max_x = 0, max_x + pad_l
        w += pad_l
    if min_y < 0:
        pad_u = -min_y
        min_y, max_y = 0, max_y + pad_u
        h += pad_u
    if max_x > w:
        pad_r = max_x - w
    if max_y > h:
        pad_d = max_y - h
    image = np.pad(image, ((pad_u, pad_d), (pad_l, pad_r), (0, 0)))
    return image[min_y:max_y, min_x:max_x]


def test_crop_with_padding_fills_zeros_outside_the_image() -> None:
    image = np.arange(1, 13, dtype=np.uint8).reshape(3, 4, 1)  # rows 1-4, 5-8, 9-12
    crop = crop_with_padding(image, (-1, 1, 2, 5))[..., 0]
    np.testing.assert_array_equal(crop, [[0, 5, 6], [0, 9, 10], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize(
    "box", [(-3, -2, 5, 6), (2, 1, 11, 9), (-4, 3, 12, 13), (1, 1, 4, 4), (-5, -5, 20, 20)]
)
def test_crop_with_padding_matches_pyskl_pad_then_slice(box: tuple[int, int, int, int]) -> None:
    image = np.random.default_rng(0).integers(1, 256, (7, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(crop_with_padding(image, box), _pyskl_compact_image(image, box))


def test_resize_image_is_bilinear_with_half_pixel_centres() -> None:
    image = np.zeros((2, 2, 3), dtype=np.uint8)
    image[:, 1] = 100
    out = resize_image(image, 4)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :, 0], np.tile([0, 25, 75, 100], (4, 1)))


def test_normalize_uses_imagenet_mean_and_std_in_rgb_order() -> None:
    out = normalize(np.array([[0, 0, 0], [255, 255, 255]], dtype=np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], [-2.1179039, -2.0357143, -1.8044444], rtol=1e-6)
    np.testing.assert_allclose(out[1], [2.2489083, 2.4285715, 2.64], rtol=1e-6)


def test_rgb_positions_follow_test_mode_uniform_sampling() -> None:
    np.testing.assert_array_equal(rgb_positions(8, SPEC, 1), np.arange(8))  # one step each
    np.testing.assert_array_equal(rgb_positions(4, SPEC, 1), [0, 1, 2, 3, 0, 1, 2, 3])  # short: loops
    np.testing.assert_array_equal(rgb_positions(4, SPEC, 2), [0, 1, 2, 3, 0, 1, 2, 3, 2, 3, 0, 1, 2, 3, 0, 1])
    long = rgb_positions(16, SPEC, 1)  # one seeded draw in each bin [2i, 2i + 2)
    assert ((long >= np.arange(0, 16, 2)) & (long < np.arange(2, 18, 2))).all()
    np.testing.assert_array_equal(long, rgb_positions(16, SPEC, 1))


def test_spec_round_trips_through_the_model_card() -> None:
    card = SPEC.to_card()
    assert card["num_channels"] == 17 and card["rgb_size"] == 64
    assert RGBPoseSpec.from_card(card) == SPEC
    assert SPEC.pose_size == 16 and RGBPoseSpec().pose_size == 56


def _clip(rows: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Joint 0 at (90, 20), joint 1 at (110, 60); joint 2 missing (score 0) at (1, 1)."""
    keypoints = np.zeros((rows, 17, 2), dtype=np.float32)
    scores = np.zeros((rows, 17), dtype=np.float32)
    keypoints[:, :3] = [(90, 20), (110, 60), (1, 1)]
    scores[:, :2] = 1.0
    return keypoints, scores


def test_rgbpose_inputs_crop_square_box_resize_and_render() -> None:
    # Box: centre (100, 40), half-extents 12.5 and 25 → square 25 → x 75..125, y 15..65 (5 px
    # past the 120-px-wide frame, zero padded); 50 px → 64 px; heatmaps on 64·0.25 = 16 px.
    keypoints, scores = _clip()
    images = [np.full((100, 120, 3), 100 + 10 * t, dtype=np.uint8) for t in range(8)]
    rgb, pose = rgbpose_inputs(images, keypoints, scores, SPEC)
    assert rgb.shape == (1, 3, 8, 64, 64) and pose.shape == (1, 17, 32, 16, 16)
    assert rgb.dtype == pose.dtype == np.float32
    for t in range(8):  # frame order kept along T; left column inside the image, right one padded
        np.testing.assert_allclose(rgb[0, :, t, :, 0], normalize(np.full((64, 3), 100 + 10 * t)).T)
        np.testing.assert_allclose(rgb[0, :, t, :, -1], normalize(np.zeros((64, 3))).T)
    # Joint 0: (90 - 75, 20 - 15) · 64/50 · 0.25 = (4.8, 1.6); joint 1: (11.2, 14.4).
    assert np.unravel_index(pose[0, 0, 0].argmax(), (16, 16)) == (2, 5)
    assert np.unravel_index(pose[0, 1, 0].argmax(), (16, 16)) == (14, 11)
    assert pose[0, 2:].max() == 0.0, "missing joints draw nothing"
    np.testing.assert_allclose(pose[0, 0, 0, 2, 5], np.exp(-(0.2**2 + 0.4**2) / (2 * 0.7**2)), rtol=1e-5)


def test_rgbpose_inputs_need_one_image_per_rgb_position() -> None:
    keypoints, scores = _clip()
    with pytest.raises(ValueError, match="need 16 frames"):
        rgbpose_inputs([np.zeros((100, 120, 3), np.uint8)] * 8, keypoints, scores, SPEC, num_clips=2)
