"""Draw motion-captured synthetic people: one row per class, one column per virtual camera.

    python benchmarks/plot_mocap.py [docs/synthetic_mocap.png] [--classes walk,run,...]

Each panel projects the middle frames of one class's motion (a random source motion, played at
a random speed) through a different random pinhole camera (``synth/camera.py``: all round the
person, eye level to surveillance height; zoomed so the person fills half a panel), and draws
three of its frames overlaid, lighter for earlier ones. Blue is the person's left side, orange
the right. Not a benchmark: a picture to check by eye that real motion, cameras and left/right
come out right.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from plot_synth import _colour

from posebeam.schemas.layouts import COCO17
from posebeam.synth.camera import random_camera
from posebeam.synth.mocap import MOCAP_CLASSES
from posebeam.synth.mocap_scene import perform_class

DEFAULT_CLASSES = "stand,walk,run,jump,kick,punch,dance,cartwheel,get_up"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("output", nargs="?", type=Path, default=Path("docs/synthetic_mocap.png"))
    parser.add_argument("--classes", default=DEFAULT_CLASSES)
    parser.add_argument("--cameras", type=int, default=4)
    args = parser.parse_args()
    classes = [c for c in args.classes.split(",") if c in MOCAP_CLASSES]
    rng = np.random.default_rng(7)
    cameras = [random_camera(rng, 240, 240, target=(0.0, 0.9, 0.0)) for _ in range(args.cameras)]
    # Zoomed so a person fills half a panel (the generator also films people as small as 10 %).
    cameras = [dataclasses.replace(c, focal_px=0.5 * 240 * c.distance_m / 1.7) for c in cameras]
    fig, axes = plt.subplots(len(classes), len(cameras), figsize=(2.0 * len(cameras), 2.0 * len(classes)))
    for row, label in enumerate(classes):
        joints = perform_class(label, 30, 15.0, np.random.default_rng(row))
        joints -= joints[:, 11:13].mean(axis=(0, 1)) * [1, 0, 1]  # keep the person in view
        for col, camera in enumerate(cameras):
            ax = axes[row, col]
            pixels, _ = camera.project(joints)
            for shade, frame in zip((0.25, 0.55, 1.0), (5, 15, 25), strict=True):
                for a, b in COCO17.limbs:
                    ax.plot(*pixels[frame, [a, b]].T, color=_colour(a, b), alpha=shade, lw=1.5)
            ax.set_xlim(0, 240)
            ax.set_ylim(240, 0)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(label)
            if row == 0:
                ax.set_title(f"az {camera.azimuth_deg:.0f}°, el {camera.elevation_deg:.0f}°", fontsize=8)
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=90)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
