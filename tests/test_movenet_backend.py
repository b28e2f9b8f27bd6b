"""The default backend: MoveNet MultiPose boxes, then MoveNet Lightning per crop, on onnxruntime."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from posebeam.models.movenet import LIGHTNING, MULTIPOSE, MoveNetBackend, input_size
from posebeam.models.pose_backend import BACKENDS, check_backend
from posebeam.pipeline.options import DEFAULT_BACKEND

PROVENANCE = Path(__file__).resolve().parents[1] / "deploy" / "movenet" / "README.md"


@pytest.fixture(scope="module")
def backend() -> MoveNetBackend:
    return MoveNetBackend()


def test_movenet_is_the_default_backend() -> None:
    assert DEFAULT_BACKEND == "movenet" and "movenet" in BACKENDS
    assert check_backend("movenet").startswith("movenet-multipose+lightning-onnx")


@pytest.mark.parametrize("path", [MULTIPOSE, LIGHTNING], ids=lambda p: p.name)
def test_the_shipped_onnx_files_are_the_ones_the_provenance_notes_name(path: Path) -> None:
    recorded = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  models/weights/(\S+)$",
                                                       PROVENANCE.read_text(), flags=re.M)
    )  # fmt: skip
    assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[path.name]


def test_input_size_keeps_the_aspect_in_multiples_of_32() -> None:
    assert input_size(768, 576, 512) == (512, 384)
    assert input_size(1920, 1080, 512) == (512, 288)
    assert input_size(2, 2, 512) == (512, 512)
    assert input_size(1000, 16, 512) == (512, 32)


def test_frame_50_of_the_street_clip_shows_its_pedestrians(backend: MoveNetBackend) -> None:
    """Frame 50 of the sample has six pedestrians; HOG found three of them."""
    import av

    from posebeam.storage.sample import SampleUnavailable, cache_dir, fetch_sample

    try:
        clip = fetch_sample(cache_dir() / "sample")
    except SampleUnavailable as err:
        pytest.skip(f"sample street clip unavailable: {err}")
    with av.open(str(clip)) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == 50).to_ndarray(format="rgb24")
    poses = backend.estimate([frame])[0]
    assert len(poses) >= 5
    for pose in poses:
        joints = pose.keypoints
        x1, y1, x2, y2 = pose.bbox
        assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 576
        seen = joints[:, 2] > 0.3
        inside = (
            (joints[:, 0] >= x1 - 20)
            & (joints[:, 0] <= x2 + 20)
            & (joints[:, 1] >= y1 - 20)
            & (joints[:, 1] <= y2 + 20)
        )
        assert inside[seen].all(), "confident joints lie on their person"
        if seen[[0, 15, 16]].all():
            assert joints[0, 1] < min(joints[15, 1], joints[16, 1]), "the nose is above the ankles"


@pytest.mark.parametrize("size", [(2, 2), (90, 120), (1000, 16), (16, 1000), (1, 1)])
def test_tiny_and_extreme_frames_are_safe(backend: MoveNetBackend, size: tuple[int, int]) -> None:
    height, width = size
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    poses = backend.estimate([frame])[0]
    for pose in poses:
        assert np.isfinite(pose.keypoints).all()
