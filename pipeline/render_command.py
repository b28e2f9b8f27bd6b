"""``posebeam render OUTPUT VIDEO -o FILE.mp4``: the original video with what the run found drawn on it.

Every frame of the video is decoded again (display orientation, as the keypoints are) and written
at its own presentation time, so the overlay has the video's frames and timing, variable frame rate
included. On each frame: every person's box, skeleton, ``#person_id`` and, when the run has them,
its current frame label and the prediction of the clip around that frame.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from posebeam.figures.video_overlay import draw_persons
from posebeam.pipeline.align_videos import resolve_video
from posebeam.pipeline.segment_command import check_exists
from posebeam.pipeline.usage import UsageError
from posebeam.pipeline.video_annotations import VideoAnnotations
from posebeam.storage.parquet_tables import read_table
from posebeam.storage.uris import open_input
from posebeam.storage.video import READ_ERRORS, VideoReader
from posebeam.storage.video_writer import VideoWriter


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="OUTPUT", help="the tables of a posebeam run")
    parser.add_argument("video", metavar="VIDEO", help="a video_id, or the file name or URI of a video")
    parser.add_argument("-o", dest="target", metavar="FILE.mp4", type=Path, required=True,
                        help="the overlay video to write")  # fmt: skip


def render_video(output: str, video_id: str, target: Path) -> tuple[int, int, str]:
    """Write the overlay of ``video_id`` to ``target``; returns the frames written, the frames the
    run decoded, and the codec."""
    annotations = VideoAnnotations.load(output, video_id)
    uri = annotations.video["uri"]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open_input(uri) as fileobj, VideoReader(fileobj) as reader:
            frames = reader.frames()
            first = next(frames, None)
            if first is None:
                raise UsageError(f"{uri} yields no frame any more")
            height, width = first.rgb.shape[:2]
            with VideoWriter(target, width, height, reader.info.fps) as writer:
                for frame in (first, *frames):
                    persons = annotations.persons_at(frame.index, frame.timestamp_s)
                    writer.write(draw_persons(frame.rgb, persons), frame.timestamp_s)
                return writer.frames, int(annotations.video["frames_decoded"]), writer.codec
    except READ_ERRORS as err:
        raise UsageError(f"cannot re-read {uri}: {err}") from err


def run_render(args: argparse.Namespace) -> str:
    check_exists(args.output, "OUTPUT")
    if args.target.suffix.lower() not in (".mp4", ".mkv", ".mov"):
        raise UsageError(f"-o {args.target}: give a .mp4 (or .mkv, .mov) file name")
    video_id = resolve_video(read_table(args.output, "videos"), args.video)
    written, decoded, codec = render_video(args.output, video_id, args.target)
    note = "" if written == decoded else f" (the run decoded {decoded}: has the file changed?)"
    return f"wrote {written} frames ({codec}) to {args.target}{note}"
