"""Draw the synthetic actions as stick figures: one row per action, frames of one repetition.

    python benchmarks/plot_synth.py [docs/synthetic_actions.png] [--frames 8] [--actions wave,squat]

The figures are the textbook actions (no per-person variation, no detector noise), posed by the
kinematic tree of ``synth/body.py``; the label under each frame is the phase it is in.
Blue is the person's left side, orange the right. Not a benchmark: a picture to check by eye that the
actions look human.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from posebeam.schemas.layouts import COCO17
from posebeam.synth.actions import ACTIONS, action_phase, action_pose
from posebeam.synth.body import forward_kinematics

LEFT, RIGHT, CENTRE = "#1f77b4", "#ff7f0e", "#444444"


def _colour(a: int, b: int) -> str:
    names = COCO17.joints[a] + COCO17.joints[b]
    if "left" in names and "right" not in names:
        return LEFT
    if "right" in names and "left" not in names:
        return RIGHT
    return CENTRE


def draw_pose(ax: plt.Axes, joints: np.ndarray) -> None:
    """Draw ``(17, 2)`` body-unit joints (y up) as a stick figure with a head circle."""
    for a, b in COCO17.limbs:
        ax.plot(joints[[a, b], 0], joints[[a, b], 1], color=_colour(a, b), lw=2.2, solid_capstyle="round")
    ax.add_patch(plt.Circle(tuple(joints[0]), 0.055, fill=False, color=CENTRE, lw=1.5))
    ax.plot(joints[:, 0], joints[:, 1], "o", color="black", ms=2)


def plot_actions(path: Path, names: list[str], frames: int) -> None:
    u = np.arange(frames) / frames
    fig, axes = plt.subplots(len(names), frames, figsize=(1.3 * frames, 1.75 * len(names)), squeeze=False)
    for row, name in zip(axes, names, strict=True):
        joints = forward_kinematics(action_pose(name, u))
        phases = action_phase(name, u)
        for i, ax in enumerate(row):
            ax.axhline(0, color="#bbbbbb", lw=1)
            draw_pose(ax, joints[i])
            ax.set_xlim(-0.55, 0.55)
            ax.set_ylim(-0.05, 1.15)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"{u[i]:.2f} {phases[i]}", fontsize=7)
        row[0].set_ylabel(name, fontsize=9)
    fig.suptitle("posebeam synth: one repetition per action (blue = left, orange = right)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png", nargs="?", default="docs/synthetic_actions.png", type=Path)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--actions", default=",".join(ACTIONS), help="comma-separated action names")
    args = parser.parse_args()
    plot_actions(args.png, args.actions.split(","), args.frames)
    print(args.png)


if __name__ == "__main__":
    main()
