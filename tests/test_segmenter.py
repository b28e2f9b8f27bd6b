"""The action segmenter's pieces (docs/method.md §6): per-frame heatmaps of a track, the encoder and
its parameter count, bounded-memory inference over long tracks, and the checkpoint round trip."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from posebeam.models.checkpoints import save_checkpoint
from posebeam.models.ms_tcn import segmentation_loss
from posebeam.models.registry import ARCHITECTURES, CLASSIFIER, SEGMENTER, architecture, architectures
from posebeam.models.segment_track import (
    load_segmenter,
    segment_features,
    segment_track,
    track_features,
)
from posebeam.models.segmenter import FrameEncoder, heatmap_segmenter, parameter_count
from posebeam.transforms.frame_heatmaps import (
    FLIP_CHANNELS,
    SegmenterSpec,
    crop_heatmaps,
    drop_keypoints,
    heatmap_chunks,
    track_boxes,
    track_heatmaps,
)
from posebeam.transforms.heatmaps import flip_heatmaps
from posebeam.transforms.windows import window_starts

SIGMA = 0.6
TINY = SegmenterSpec(
    heatmap_size=16, base_width=8, feature_dim=16, num_layers_pg=4, num_layers_r=3, num_r=1, num_f_maps=8
)


def _walking_track(num_frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A person who walks right and grows (comes closer), with noisy scores, some missing joints and
    one frame without the person."""
    rng = np.random.default_rng(seed)
    pose = rng.uniform(-1, 1, (17, 2)) * [15, 40]
    t = np.arange(num_frames)[:, None, None]
    keypoints = pose[None] * (1 + t / num_frames) + np.stack([40 + 2.0 * t[..., 0], 90 + 0 * t[..., 0]], -1)
    keypoints = keypoints + rng.normal(0, 1.5, keypoints.shape)
    scores = rng.uniform(0.3, 1.0, (num_frames, 17)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.1] = 0.0
    scores[num_frames // 3] = 0.0
    return keypoints.astype(np.float32), scores


# --- the kernel: boxes and heatmaps ---


def _box_track(num_frames: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Joints spanning x 10–30, y 20–60 in every frame (box centre (20, 40), longer side 40)."""
    keypoints = np.zeros((num_frames, 17, 2))
    keypoints[:, :, 0] = np.linspace(10, 30, 17)
    keypoints[:, :, 1] = np.linspace(20, 60, 17)
    return keypoints, np.ones((num_frames, 17))


def test_track_box_is_the_padded_square_around_the_drawn_joints() -> None:
    keypoints, scores = _box_track()
    boxes = track_boxes(keypoints, scores, window=3, padding=0.25)
    np.testing.assert_allclose(boxes, np.tile([20 - 25, 40 - 25, 50], (5, 1)))


def test_track_box_median_ignores_a_one_frame_outlier() -> None:
    keypoints, scores = _box_track()
    keypoints[2, 9] = [200, 40]  # a wrist detected far away in one frame
    np.testing.assert_allclose(track_boxes(keypoints, scores, window=3)[2], [-5, 15, 50])
    per_frame = track_boxes(keypoints, scores, window=1)[2]
    assert per_frame[2] == pytest.approx(190 * 1.25)


def test_track_box_ignores_joints_below_eps_and_interpolates_frames_without_joints() -> None:
    keypoints, scores = _box_track()
    keypoints[4] += [20, 0]
    scores[:, 16] = 1e-4  # below PYSKL's eps: not drawn, so not boxed
    keypoints[:, 16] = [500, 500]
    scores[3] = 0.0  # the person is missing here
    boxes = track_boxes(keypoints, scores, window=1, padding=0.0)
    centres = boxes[:, 0] + boxes[:, 2] / 2
    side = (60 - 20) * 15 / 16  # joint 16 left out: y spans 20 … 57.5
    np.testing.assert_allclose(boxes[:, 2], side)
    np.testing.assert_allclose(centres, [19.375, 19.375, 19.375, 29.375, 39.375])  # x 10 … 28.75


def test_track_without_any_joint_gets_minimal_boxes_and_empty_heatmaps() -> None:
    keypoints, scores = _box_track(3)
    boxes = track_boxes(keypoints, np.zeros_like(scores), padding=0.25)
    np.testing.assert_allclose(boxes, np.tile([0, 0, 12.5], (3, 1)))
    assert not track_heatmaps(keypoints, np.zeros_like(scores), TINY).any()


def test_crop_maps_each_frame_through_its_box_and_draws_confidence_weighted_joints_and_limbs() -> None:
    keypoints = np.zeros((1, 17, 2))
    scores = np.zeros((1, 17))
    keypoints[0, 0], scores[0, 0] = [10, 12], 0.8  # nose
    keypoints[0, 5], scores[0, 5] = [0, 20], 0.9  # left shoulder
    keypoints[0, 7], scores[0, 7] = [20, 20], 0.6  # left elbow
    box = np.array([[-10.0, -20.0, 64.0]])  # 64 px → 32 px: x' = (x + 10) / 2, y' = (y + 20) / 2
    volume = crop_heatmaps(keypoints, scores, box, 32, sigma=SIGMA)
    assert volume.shape == (1, 34, 32, 32) and volume.dtype == np.float32
    nose, shoulder_elbow = volume[0, 0], volume[0, 17 + 5]  # limb 5 is (5, 7)
    assert nose[16, 10] == pytest.approx(0.8)
    assert nose[16, 11] == pytest.approx(0.8 * math.exp(-1 / (2 * SIGMA**2)), rel=1e-5)
    assert volume[0, 5, 20, 5] == pytest.approx(0.9)
    np.testing.assert_allclose(shoulder_elbow[20, 5:16], 0.6, rtol=1e-6)  # the smaller score
    assert shoulder_elbow[21, 10] == pytest.approx(0.6 * math.exp(-1 / (2 * SIGMA**2)), rel=1e-5)
    drawn = {c for c in range(34) if volume[0, c].any()}
    assert drawn == {0, 5, 7, 17 + 4, 17 + 5}  # nose–shoulder is limb 4


@pytest.mark.parametrize("chunk", [1, 7, 50, 200])
def test_chunks_of_any_size_concatenate_to_the_whole_tracks_heatmaps(chunk: int) -> None:
    keypoints, scores = _walking_track(90)
    whole = track_heatmaps(keypoints, scores, TINY)
    assert whole.shape == (90, 34, 16, 16) and whole.max() > 0.5
    np.testing.assert_array_equal(np.concatenate(list(heatmap_chunks(keypoints, scores, TINY, chunk))), whole)


def test_flipped_chunks_mirror_pixels_and_swap_left_and_right_channels() -> None:
    keypoints, scores = _walking_track(20)
    whole = track_heatmaps(keypoints, scores, TINY)
    flipped = np.concatenate(list(heatmap_chunks(keypoints, scores, TINY, 8, flip=True)))
    np.testing.assert_array_equal(flipped, flip_heatmaps(whole, FLIP_CHANNELS))
    assert FLIP_CHANNELS[5] == 6 and FLIP_CHANNELS[17 + 5] == 17 + 8  # left arm ↔ right arm


def test_keypoint_dropout_zeroes_joints_at_a_per_track_rate_and_whole_frames() -> None:
    scores = np.ones((2000, 17), np.float32)
    assert (drop_keypoints(scores, np.random.default_rng(0), max_joint_p=0, frame_p=0) == 1).all()
    dropped = drop_keypoints(scores, np.random.default_rng(1), max_joint_p=0, frame_p=0.1)
    empty = (dropped == 0).all(axis=1)
    assert 0.07 < empty.mean() < 0.13 and (dropped[~empty] == 1).all()
    rates = [(drop_keypoints(scores, np.random.default_rng(s), max_joint_p=0.4, frame_p=0) == 0).mean()
             for s in range(20)]  # fmt: skip
    assert min(rates) > 0 and max(rates) < 0.4 and np.std(rates) > 0.05  # one rate per track
    assert (scores == 1).all()  # the input is left alone


def test_spec_refuses_grids_the_encoder_cannot_halve_four_times_and_even_windows() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        SegmenterSpec(heatmap_size=8)
    with pytest.raises(ValueError, match="odd"):
        SegmenterSpec(box_window=4)
    card = TINY.to_card()
    assert card["num_channels"] == 34 and SegmenterSpec.from_card(card) == TINY


# --- the models ---


@pytest.mark.parametrize("size", [16, 32, 48])
def test_encoder_turns_each_frame_into_one_feature_vector(size: int) -> None:
    encoder = FrameEncoder(34, (8, 16, 32, 24)).eval()
    assert encoder(torch.zeros(5, 34, size, size)).shape == (5, 24)


@pytest.mark.parametrize(
    ("spec", "classes", "expected"),
    [
        (SegmenterSpec(), 13, 1_116_480 + 581 * 13),
        (SegmenterSpec(), 5, 1_116_480 + 581 * 5),
        (SegmenterSpec(feature_dim=256), 13, None),
        (TINY, 4, None),
    ],
)
def test_parameter_count_formula_matches_the_modules(
    spec: SegmenterSpec, classes: int, expected: int | None
) -> None:
    model = heatmap_segmenter(classes, spec)
    counted = {part: sum(p.numel() for p in getattr(model, part).parameters())
               for part in ("encoder", "frame_head", "tcn")}  # fmt: skip
    formula = parameter_count(classes, spec)
    assert formula == {**counted, "total": sum(counted.values())}
    if expected is not None:
        assert formula["total"] == expected and formula["encoder"] == 250_112


def test_segmenter_forward_gives_every_stages_logits_per_frame() -> None:
    torch.manual_seed(0)
    model = heatmap_segmenter(5, TINY).eval()
    out = model(torch.rand(2, 12, 34, 16, 16))
    assert out.shape == (2, 2, 5, 12)  # (stages, N, C, T)


def test_registry_has_the_two_segmenters_and_the_classifiers_unchanged() -> None:
    assert architectures(SEGMENTER) == ["heatmap_mstcn", "rgb_heatmap_mstcn"]
    assert architectures(CLASSIFIER) == ["pose_c3d", "pose_slowonly", "pose_x3d", "rgbpose_conv3d"]
    entry = architecture("heatmap_mstcn")
    assert entry.spec is SegmenterSpec and entry.optimiser.lr(8) == 5e-4  # Adam: not scaled
    assert ARCHITECTURES["pose_x3d"].optimiser.lr(8) == pytest.approx(0.4 / 256 * 8)


# --- inference over long tracks ---


@pytest.fixture(scope="module")
def tiny_model() -> torch.nn.Module:
    """A tiny segmenter fitted for a few steps to label thirds of a walking track 0, 1, 2: its
    labels change along a track (a random one labels every frame alike)."""
    torch.manual_seed(0)
    model = heatmap_segmenter(4, TINY)
    keypoints, scores = _walking_track(150, seed=3)
    heatmaps = torch.from_numpy(track_heatmaps(keypoints, scores, TINY))[None]
    labels = torch.arange(150)[None] * 3 // 150
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        loss = segmentation_loss(model(heatmaps), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def test_window_starts_cover_the_track_half_overlapping() -> None:
    assert window_starts(10, 16) == [0]
    assert window_starts(10, 4) == [0, 2, 4, 6]
    assert window_starts(11, 4) == [0, 2, 4, 6, 7]


def test_labels_do_not_depend_on_the_chunk_size(tiny_model: torch.nn.Module) -> None:
    keypoints, scores = _walking_track(150, seed=3)
    spec = replace(TINY, tcn_window=64)  # 150 frames: four windows
    whole = torch.from_numpy(track_heatmaps(keypoints, scores, spec))
    with torch.no_grad():
        expected_features = tiny_model.encode(whole).T
    results = []
    for chunk in (1, 7, 64, 150, 1000):
        features = track_features(tiny_model, keypoints, scores, spec, chunk)
        torch.testing.assert_close(features, expected_features, rtol=1e-5, atol=1e-5)
        results.append(segment_track(tiny_model, keypoints, scores, spec, chunk_frames=chunk))
    labels, best = results[0]
    assert labels.shape == best.shape == (150,) and len(np.unique(labels)) > 1
    for other_labels, other_best in results[1:]:
        np.testing.assert_array_equal(other_labels, labels)
        np.testing.assert_allclose(other_best, best, rtol=1e-4)


def test_long_tracks_take_each_frame_from_the_window_whose_centre_is_nearest(
    tiny_model: torch.nn.Module,
) -> None:
    torch.manual_seed(1)
    features = torch.randn(16, 75)
    with torch.no_grad():
        whole = torch.softmax(tiny_model.temporal(features[None])[-1, 0], dim=0)
        torch.testing.assert_close(segment_features(tiny_model, features, 75), whole)
        windowed = segment_features(tiny_model, features, 20)
        starts = window_starts(75, 20)
        centres = [s + 10 for s in starts]
        for t in range(75):
            k = min(range(len(starts)), key=lambda k: (abs(t - centres[k]), -k))  # ties: the later
            alone = torch.softmax(
                tiny_model.temporal(features[None, :, starts[k] : starts[k] + 20])[-1, 0], 0
            )
            torch.testing.assert_close(windowed[:, t], alone[:, t - starts[k]])
    assert not torch.allclose(windowed, whole)


def test_checkpoint_round_trip_gives_the_same_labels(tiny_model: torch.nn.Module, tmp_path: Path) -> None:
    weights = tmp_path / "heatmap_mstcn.safetensors"
    card = {"architecture": "heatmap_mstcn", "classes": ["a", "b", "c", "d"], "clip": TINY.to_card()}
    save_checkpoint(tiny_model.state_dict(), weights, card)
    model, spec, loaded = load_segmenter(weights)
    assert spec == TINY and loaded["classes"] == card["classes"]
    keypoints, scores = _walking_track(40)
    for a, b in zip(segment_track(model, keypoints, scores, spec),
                    segment_track(tiny_model, keypoints, scores, TINY), strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)


def test_loading_a_classifier_as_a_segmenter_is_refused(tmp_path: Path) -> None:
    weights = tmp_path / "pose_x3d.safetensors"
    save_checkpoint({"w": torch.zeros(1)}, weights, {"architecture": "pose_x3d", "classes": ["a"]})
    with pytest.raises(ValueError, match="holds a classifier"):
        load_segmenter(weights)
