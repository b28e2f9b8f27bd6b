"""Virtual pinhole cameras that film 3D motion capture as a video camera would.

A camera stands ``distance_m`` from a target point, at ``azimuth_deg`` around it (0: on the +x
side, looking towards -x; counterclockwise seen from above) and ``elevation_deg`` above the
horizontal (0: eye level, 45: a high surveillance view), looking at the target, rolled by
``roll_deg``. World coordinates are metres, y up. Projection is the pinhole model: image x grows
to the camera's right, y downwards, the target lands on the image centre, and a point ``depth``
metres in front of the camera at lateral offset ``d`` lands ``focal_px · d / depth`` pixels from
the centre, so far people are small (perspective scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    width: int
    height: int
    focal_px: float
    azimuth_deg: float
    elevation_deg: float
    distance_m: float
    roll_deg: float = 0.0
    target: tuple[float, float, float] = (0.0, 0.9, 0.0)

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """The camera's centre ``(3,)`` and rotation ``(3, 3)`` whose rows are its right, down and
        forward directions in world coordinates."""
        azimuth, elevation = np.radians(self.azimuth_deg), np.radians(self.elevation_deg)
        back = np.array(
            [np.cos(elevation) * np.cos(azimuth), np.sin(elevation), -np.cos(elevation) * np.sin(azimuth)]
        )  # from the target towards the camera
        centre = np.asarray(self.target) + self.distance_m * back
        forward = -back
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        roll = np.radians(self.roll_deg)
        right, down = (
            np.cos(roll) * right + np.sin(roll) * down,
            -np.sin(roll) * right + np.cos(roll) * down,
        )
        return centre, np.stack([right, down, forward])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(..., 3)`` world points → ``(..., 2)`` pixels and ``(...,)`` depths in metres
        (≤ 0: behind the camera, the pixels are then meaningless)."""
        centre, rotation = self.axes()
        local = (np.asarray(points, dtype=np.float64) - centre) @ rotation.T
        depth = local[..., 2]
        safe = np.where(depth > 1e-6, depth, 1e-6)
        pixels = self.focal_px * local[..., :2] / safe[..., None]
        pixels += np.array([self.width / 2.0, self.height / 2.0])
        return pixels, depth


def random_camera(
    rng: np.random.Generator, width: int, height: int, target: tuple[float, float, float] = (0.0, 0.9, 0.0)
) -> PinholeCamera:
    """A camera all round the target, from eye level to a high surveillance view, 4–15 m away,
    zoomed so a 1.7 m person there is 10–60 % of the frame's height (log-uniform: surveillance
    footage shows small people), rolled a little."""
    distance = float(rng.uniform(4.0, 15.0))
    person_share = float(np.exp(rng.uniform(np.log(0.1), np.log(0.6))))
    return PinholeCamera(
        width=width,
        height=height,
        focal_px=person_share * height * distance / 1.7,
        azimuth_deg=float(rng.uniform(0.0, 360.0)),
        elevation_deg=float(rng.uniform(0.0, 45.0)),
        distance_m=distance,
        roll_deg=float(rng.normal(0.0, 2.0)),
        target=target,
    )
