"""``posebeam report OUTPUT [-o FILE.html]``: one static HTML page about a run, no server needed.

The page (default ``OUTPUT/report.html``, its pictures in ``report_files/`` beside it) holds the
run summary (tables, inputs, videos, failures, persons, frames), the failures with their reasons,
and per video its file name, duration and persons, a thumbnail of its busiest frame with the
skeletons drawn, its timeline (one row per person, coloured by the segmenter's labels or the
classifier's clips) and the ``posebeam render`` command that draws its overlay video.
"""

from __future__ import annotations

import argparse
import html
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from posebeam.figures.timeline import draw_timeline
from posebeam.figures.video_overlay import draw_persons, save_image
from posebeam.pipeline.inspect_command import file_name, size_text
from posebeam.pipeline.usage import UsageError, positive_int
from posebeam.pipeline.video_annotations import VideoAnnotations
from posebeam.storage.output_summary import OutputSummary, summarise_output
from posebeam.storage.uris import is_local, open_input
from posebeam.storage.video import READ_ERRORS, VideoReader, frames_at

THUMBNAIL_WIDTH = 768
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: left; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
section.video { border-top: 2px solid #888; padding: 0.5em 0 1em; }
section.video img { max-width: 100%; margin: 0.3em 0; }
code { background: #f3f3f3; padding: 0.1em 0.3em; }
.note { color: #666; }
"""
CHECK_IMAGES = """
window.addEventListener("load", () => {
  const broken = [...document.images].filter((image) => !image.complete || image.naturalWidth === 0);
  document.body.dataset.imagesLoaded = broken.length === 0 ? "all" : "broken:" + broken.length;
});
"""


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="OUTPUT", help="a run's output folder (local)")
    parser.add_argument("-o", dest="page", metavar="FILE.html", type=Path, default=None,
                        help="the page (default: OUTPUT/report.html); pictures go beside it")  # fmt: skip
    parser.add_argument("--max-videos", dest="max_videos", type=positive_int, default=100,
                        help="videos shown with pictures, the most persons first (default: 100)")  # fmt: skip


def _e(value: Any) -> str:
    return html.escape(str(value))


def _thumbnail(annotations: VideoAnnotations, target: Path) -> str | None:
    """Draw the frame with the most persons (the earliest of those); None when it cannot be read."""
    if not len(annotations.frame_index):
        return None
    frames, counts = np.unique(annotations.frame_index, return_counts=True)
    busiest = int(frames[np.argmax(counts)])
    try:
        with open_input(annotations.video["uri"]) as fileobj, VideoReader(fileobj) as reader:
            (rgb,) = frames_at(reader, [busiest])
    except READ_ERRORS as err:
        return f"the video cannot be re-read ({err})"
    timestamp = float(annotations.timestamp_s[annotations.frame_index == busiest][0])
    save_image(target, draw_persons(rgb, annotations.persons_at(busiest, timestamp)), THUMBNAIL_WIDTH)
    return None


def _summary_rows(summary: OutputSummary) -> list[tuple[str, str, str]]:
    persons = sum(int(v["persons_found"]) for v in summary.videos)
    frames = sum(int(v["frames_processed"]) for v in summary.videos)
    person_frames = sum(int(v["person_frames"]) for v in summary.videos)
    failed = len({f["uri"] for f in summary.failures})
    return [
        ("count-inputs", "inputs", f"{len(summary.videos) + failed:,}"),
        ("count-videos", "videos done", f"{len(summary.videos):,}"),
        ("count-failures", "inputs failed", f"{failed:,}"),
        ("count-persons", "persons (tracks)", f"{persons:,}"),
        ("count-frames", "frames processed", f"{frames:,}"),
        ("count-person-frames", "person-frames", f"{person_frames:,}"),
    ]


def _video_section(output: str, video: dict[str, Any], images: Path, page_dir: Path) -> str:
    video_id, name = video["video_id"], file_name(video["uri"])
    annotations = VideoAnnotations.load(output, video_id)
    thumbnail = images / f"{video_id}_thumbnail.jpg"
    problem = _thumbnail(annotations, thumbnail)
    spans, source = annotations.label_spans()
    timeline = draw_timeline(images / f"{video_id}_timeline.png", annotations.track_spans(), spans,
                             float(video["duration_s"] or 0.0), name, source or "no labels")  # fmt: skip
    duration = "unknown" if video["duration_s"] is None else f"{video['duration_s']:.1f} s"
    command = f"posebeam render {output} {video_id} -o {Path(name).stem}.overlay.mp4"
    source_path = _e(thumbnail.relative_to(page_dir))
    picture = (
        f'<p class="note">no thumbnail: {_e(problem or "no person was found")}</p>'
        if problem or not thumbnail.exists()
        else f'<img class="thumbnail" alt="busiest frame of {_e(name)}" src="{source_path}">'
    )
    return f"""<section class="video" id="video-{_e(video_id)}">
<h3>{_e(name)}</h3>
<p>{_e(duration)}, {video["width"]}×{video["height"]}, {video["frames_processed"]:,} frames processed,
<span class="persons">{video["persons_found"]:,}</span> persons, {video["person_frames"]:,} person-frames
<span class="note">({_e(video_id)}, {_e(video["uri"])})</span></p>
{picture}
<img class="timeline" alt="timeline of {_e(name)}" src="{_e(timeline.relative_to(page_dir))}">
<p>Overlay video: <code>{_e(command)}</code></p>
</section>"""


def write_report(output: str, page: Path, max_videos: int) -> tuple[Path, int]:
    """Write the page and its pictures; returns the page and the number of videos with pictures."""
    summary = summarise_output(output)
    images = page.parent / f"{page.stem}_files"
    shutil.rmtree(images, ignore_errors=True)
    images.mkdir(parents=True)
    counts = "\n".join(f'<tr><th>{label}</th><td class="number" id="{key}">{value}</td></tr>'
                       for key, label, value in _summary_rows(summary))  # fmt: skip
    tables = "\n".join(
        f'<tr><td>{t.name}</td><td class="number">{t.rows:,}</td><td class="number">{size_text(t.bytes)}</td>'
        f"<td>{_e(t.schema_version)}</td></tr>"
        for t in summary.tables
    )
    failures = "\n".join(
        f"<tr><td>{_e(file_name(f['uri']))}</td><td>{_e(f['stage'])}</td><td>{_e(f['message'])}</td></tr>"
        for f in summary.failures
    )
    header = "<tr><th>file</th><th>stage</th><th>reason</th></tr>"
    failure_table = f"<table>{header}{failures}</table>" if failures else "<p>None.</p>"
    shown = sorted(summary.videos, key=lambda v: (-int(v["persons_found"]), v["uri"]))[:max_videos]
    sections = "\n".join(_video_section(output, video, images, page.parent) for video in shown)
    hidden = len(summary.videos) - len(shown)
    more = f'<p class="note">{hidden:,} more videos not shown (--max-videos).</p>' if hidden else ""
    page.write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>posebeam report: {_e(output)}</title>
<style>{STYLE}</style><script>{CHECK_IMAGES}</script></head>
<body>
<h1>posebeam report</h1>
<p class="note">{_e(output)}</p>
<h2>Run summary</h2>
<table>{counts}</table>
<table><tr><th>table</th><th>rows</th><th>size</th><th>schema</th></tr>{tables}</table>
<h2>Failures (<span id="failure-rows">{len(summary.failures)}</span>)</h2>
{failure_table}
<h2>Videos (<span id="video-sections">{len(shown)}</span>)</h2>
{more}
{sections}
</body></html>
""")
    return page, len(shown)


def run_report(args: argparse.Namespace) -> str:
    if not is_local(args.output):
        raise UsageError("OUTPUT must be a local folder for a report (copy the tables here first)")
    if not Path(args.output).is_dir():
        raise UsageError(f"OUTPUT {args.output} does not exist")
    page = args.page or Path(args.output) / "report.html"
    try:
        written, shown = write_report(args.output, page, args.max_videos)
    except FileNotFoundError as err:
        raise UsageError(str(err)) from err
    return f"wrote {written} ({shown} videos with pictures in {written.stem}_files/)"
