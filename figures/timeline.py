"""The timeline of one video: one row per person, a grey bar where the person is tracked and coloured
spans for its labels over time (the segmenter's segments, or the classifier's clips when there is no
segmenter output), a legend, and a time axis in seconds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_ROWS = 60
"""Persons drawn; a video with more shows its longest-tracked ones (the title says so)."""


@dataclass(frozen=True)
class TrackSpan:
    person_id: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class LabelSpan:
    person_id: int
    start_s: float
    end_s: float
    label: str


def label_colours(labels: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    """A fixed colour per label (sorted names on matplotlib's tab20): the same label is the same
    colour in every video's timeline."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return {label: cmap(i % 20) for i, label in enumerate(sorted(set(labels)))}


def draw_timeline(
    path: Path,
    tracks: Sequence[TrackSpan],
    labels: Sequence[LabelSpan],
    duration_s: float,
    title: str,
    label_source: str,
) -> Path:
    """Write the timeline PNG to ``path``; ``label_source`` names where the labels come from."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    length = {t.person_id: t.end_s - t.start_s for t in tracks}
    shown = sorted(length, key=lambda pid: -length[pid])[:MAX_ROWS]
    first = {t.person_id: t.start_s for t in tracks}
    order = sorted(shown, key=lambda pid: (first[pid], pid))
    row = {pid: i for i, pid in enumerate(order)}
    colours = label_colours([span.label for span in labels])
    end = max(duration_s, max((t.end_s for t in tracks), default=0.0), 1e-3)
    least = end / 400  # a one-frame track or label still shows
    figure, ax = plt.subplots(figsize=(10, 1.2 + 0.22 * max(1, len(order))), dpi=100)
    for track in tracks:
        if track.person_id in row:
            ax.barh(row[track.person_id], max(track.end_s - track.start_s, least), left=track.start_s,
                    height=0.8, color="#dddddd", edgecolor="none")  # fmt: skip
    for span in labels:
        if span.person_id in row:
            ax.barh(row[span.person_id], max(span.end_s - span.start_s, least), left=span.start_s,
                    height=0.6, color=colours[span.label], edgecolor="none")  # fmt: skip
    ax.set_yticks(np.arange(len(order)), [f"#{pid}" for pid in order], fontsize=7)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(0, end)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("person")
    hidden = len(length) - len(shown)
    suffix = f" ({len(shown)} longest-tracked of {len(length)} persons)" if hidden else ""
    ax.set_title(f"{title}{suffix}", fontsize=9)
    handles = [Patch(color=colour, label=label) for label, colour in colours.items()]
    handles.append(Patch(color="#dddddd", label="tracked, no label"))
    ax.legend(handles=handles, title=label_source, fontsize=7, title_fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # fmt: skip
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
