"""Virtual pinhole cameras for motion capture: centring, perspective scale, orientation, depth."""

from __future__ import annotations

import numpy as np
import pytest

from posebeam.synth.camera import PinholeCamera, random_camera
from posebeam.synth.mocap import MOTION_DATA, read_deepmimic


def _camera(**changes: float) -> PinholeCamera:
    settings = {"width": 640, "height": 480, "focal_px": 800.0, "azimuth_deg": 0.0, "elevation_deg": 0.0,
                "distance_m": 8.0} | changes  # fmt: skip
    return PinholeCamera(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("azimuth", [0.0, 73.0, 180.0, 291.0])
@pytest.mark.parametrize("elevation", [0.0, 30.0])
def test_the_target_lands_on_the_image_centre(azimuth: float, elevation: float) -> None:
    pixels, depth = _camera(azimuth_deg=azimuth, elevation_deg=elevation).project(np.array([0.0, 0.9, 0.0]))
    np.testing.assert_allclose(pixels, [320.0, 240.0], atol=1e-9)
    assert depth == pytest.approx(8.0)


def test_perspective_a_person_twice_as_far_is_half_as_tall() -> None:
    person = np.array([[0.0, 0.0, 0.0], [0.0, 1.7, 0.0]])  # feet and head
    near = _camera(distance_m=5.0).project(person)[0]
    far = _camera(distance_m=10.0).project(person)[0]
    assert near[0, 1] - near[1, 1] == pytest.approx(800 * 1.7 / 5.0)
    assert (near[0, 1] - near[1, 1]) == pytest.approx(2 * (far[0, 1] - far[1, 1]))
    assert near[1, 1] < near[0, 1], "the head is above the feet (image y grows downwards)"


def test_a_camera_in_front_of_a_deepmimic_walker_sees_its_left_on_the_image_right() -> None:
    """DeepMimic people face +x: azimuth 0 films them from the front, like a mirror."""
    walk = read_deepmimic(MOTION_DATA / "deepmimic" / "humanoid3d_walk.txt.gz").joints
    pixels, depth = _camera().project(walk)
    assert (depth > 0).all()
    assert (pixels[:, 5, 0] > pixels[:, 6, 0]).mean() > 0.95, "left shoulder right of the right one"
    behind = _camera(azimuth_deg=180.0).project(walk)[0]
    assert (behind[:, 5, 0] < behind[:, 6, 0]).mean() > 0.95, "from behind, left is left"


def test_points_behind_the_camera_have_negative_depth() -> None:
    _, depth = _camera(distance_m=3.0).project(np.array([[10.0, 0.9, 0.0], [-10.0, 0.9, 0.0]]))
    assert depth[0] < 0 < depth[1]


def test_random_cameras_frame_a_person_at_a_plausible_size() -> None:
    rng = np.random.default_rng(0)
    person = np.array([[0.0, 0.0, 0.0], [0.0, 1.7, 0.0]])
    for _ in range(200):
        camera = random_camera(rng, 320, 240)
        pixels, depth = camera.project(person)
        assert (depth > 0).all() and 0 <= camera.elevation_deg <= 45
        assert 0.07 * 240 < np.linalg.norm(pixels[0] - pixels[1]) < 0.9 * 240
