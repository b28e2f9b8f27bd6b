"""RGBPose-Conv3D inputs (``transforms/rgb_inputs.py``): golden values of pyskl's test pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from posebeam.transforms.pose_transforms import uniform_sample_frames
from posebeam.transforms.rgb_inputs import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RGBPoseSpec,
    crop_with_padding,
    normalize,
    resize_image,
    rgb_positions,
    rgbpose_inputs,
    rgbpose_train_inputs,
    train_positions,
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
    with pytest.raises(ValueError, match="pose_frames must be 4 x rgb_frames, got 32 and 4"):
        RGBPoseSpec(rgb_frames=4)


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


def test_train_positions_draw_rgb_then_pose_positions_from_the_same_clip() -> None:
    rgb, pose = train_positions(40, SPEC, np.random.default_rng(3))
    assert rgb.shape == (8,) and pose.shape == (32,)
    assert all(((positions >= 0) & (positions < 40)).all() for positions in (rgb, pose))
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(rgb, uniform_sample_frames(40, 8, rng=rng))
    np.testing.assert_array_equal(pose, uniform_sample_frames(40, 32, rng=rng))


RED, GREEN = (255, 0, 0), (0, 255, 0)


def _marked_clip(rows: int = 12) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """A 100² grey clip whose left wrist (joint 9) is a red 3×3 spot at (42, 50) and right wrist
    (joint 10) a green one at (58, 50); the other joints spread over [20, 80]²."""
    keypoints = np.tile(np.linspace([20.0, 20.0], [80.0, 80.0], 17), (rows, 1, 1)).astype(np.float32)
    keypoints[:, 9], keypoints[:, 10] = (42, 50), (58, 50)
    image = np.full((100, 100, 3), 100, dtype=np.uint8)
    image[49:52, 41:44], image[49:52, 57:60] = RED, GREEN
    return [image] * SPEC.rgb_frames, keypoints, np.ones((rows, 17), np.float32)


def _spot(frame: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """``(x, y)`` of the pixel of a normalised ``(3, S, S)`` frame most like ``colour``."""
    pixels = frame.transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    distance = np.linalg.norm(pixels - np.array(colour), axis=-1)
    row, col = np.unravel_index(distance.argmin(), distance.shape)
    return np.array([col, row], dtype=float)


def _peak(heatmap: np.ndarray) -> np.ndarray:
    row, col = np.unravel_index(heatmap.argmax(), heatmap.shape)
    return np.array([col, row], dtype=float)


def test_train_inputs_keep_frames_and_heatmaps_aligned_under_crop_and_flip() -> None:
    images, keypoints, scores = _marked_clip()
    flips = set()
    for seed in range(8):
        rng = np.random.default_rng(seed)
        _, pose_index = train_positions(len(keypoints), SPEC, rng)
        rgb, pose = rgbpose_train_inputs(images, keypoints, scores, pose_index, SPEC, rng)
        assert rgb.shape == (3, 8, 64, 64) and pose.shape == (17, 32, 16, 16)
        red, green = _spot(rgb[:, 0], RED), _spot(rgb[:, 0], GREEN)
        flipped = bool(red[0] > green[0])  # the red left wrist was left of the green right one
        flips.add(flipped)
        left, right = (green, red) if flipped else (red, green)  # a flip swaps the joint labels
        for t in (0, 31):
            np.testing.assert_allclose(_peak(pose[9, t]), left * SPEC.pose_scaling, atol=1.0)
            np.testing.assert_allclose(_peak(pose[10, t]), right * SPEC.pose_scaling, atol=1.0)
    assert flips == {False, True}, "both flip outcomes are drawn"


def test_train_inputs_vary_with_the_rng_and_repeat_with_its_seed() -> None:
    images, keypoints, scores = _marked_clip()

    def draw(seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        _, pose_index = train_positions(len(keypoints), SPEC, rng)
        return rgbpose_train_inputs(images, keypoints, scores, pose_index, SPEC, rng)

    (rgb_a, pose_a), (rgb_b, pose_b), (rgb_c, _) = draw(0), draw(0), draw(1)
    np.testing.assert_array_equal(rgb_a, rgb_b)
    np.testing.assert_array_equal(pose_a, pose_b)
    assert not np.array_equal(rgb_a, rgb_c), "another seed crops differently"
    with pytest.raises(ValueError, match="need 8 frames"):
        rgbpose_train_inputs(
            images[:4], keypoints, scores, np.arange(32) % 12, SPEC, np.random.default_rng(0)
        )
