"""Benchmark of the extract job on the sample street clip, everything measured in one run.

1. Pose stage alone: the backend on pre-decoded frames (no Beam, no decode, no I/O).
2. The same frames inside the pipeline: ``run()`` on a clip cut to those frames (decode, pose,
   tracking, Parquet writing, Beam overhead, start-up included).
3. Storage: Parquet bytes per person-frame of the keypoints table vs raw float32 (x, y, c).
4. Model stage: the shipped classifier's handler on that keypoints table's clips (views rendered
   and classified, batch by batch), against the pose stage's time for the same frames
   (the goal: the model stages cost less than the pose stage).
5. Segmenter stage: the shipped segmenter's handler on every track of that keypoints table
   (resampled, heatmaps, encoder, MS-TCN++), against the pose stage's time (goal: ≤ 0.1×).
6. Aligner stage: the shipped aligner's handler on the same tracks (heatmaps, space-time
   transformer in windows), against the pose stage's time (goal: ≤ 0.1×).

    python benchmarks/extract.py [--frames 400] [--max-side 768]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av

from posebeam.models.aligner import SHIPPED_ALIGNER
from posebeam.models.classifier import SHIPPED_CLASSIFIER
from posebeam.models.pose_backend import create_backend
from posebeam.models.segment_track import SHIPPED_SEGMENTER
from posebeam.pipeline.classify import ClassifyConfig, PoseClassifierHandler, clip_windows
from posebeam.pipeline.embed import AlignerHandler, EmbedConfig
from posebeam.pipeline.options import DEFAULT_BACKEND
from posebeam.pipeline.run import launch, summarise
from posebeam.pipeline.segment import SegmentConfig, SegmenterHandler, person_tracks
from posebeam.schemas.tables import NUM_KEYPOINT_VALUES
from posebeam.storage.parquet_tables import read_table
from posebeam.storage.sample import cache_dir, fetch_sample
from posebeam.storage.video import VideoReader

RAW_FLOAT32_BYTES = NUM_KEYPOINT_VALUES * 4  # (x, y, c) float32 per joint
PYSKL_FLOAT16_BYTES = 102  # PYSKL's raw float16 storage per person-frame


def cut_clip(source: Path, target: Path, frames: int) -> Path:
    """Stream-copy the first ``frames`` video packets of ``source`` into ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as src, av.open(str(target), mode="w") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        for number, packet in enumerate(src.demux(stream)):
            if number >= frames or packet.size == 0:
                break
            packet.stream = out
            dst.mux(packet)
    return target


def model_stage_seconds(output: Path) -> tuple[float, int]:
    """Seconds the shipped classifier's handler takes over every clip of ``output``'s keypoints."""
    config = ClassifyConfig(weights=str(SHIPPED_CLASSIFIER))
    clips = [example for _, example in clip_windows(read_table(str(output), "keypoints"), config)]
    handler = PoseClassifierHandler(config)
    model = handler.load_model()
    start = time.perf_counter()
    for i in range(0, len(clips), config.batch_size):
        list(handler.run_inference(clips[i : i + config.batch_size], model))
    return time.perf_counter() - start, len(clips)


def track_stage_seconds(
    output: Path, handler: SegmenterHandler | AlignerHandler, min_rows: int
) -> tuple[float, int]:
    """Seconds a track model's handler (segmenter or aligner) takes over every track of
    ``output``'s keypoints (cutting and resampling the tracks included)."""
    model = handler.load_model()
    start = time.perf_counter()
    table = read_table(str(output), "keypoints")
    tracks = [track for _, track in person_tracks(table, handler.spec.fps, min_rows)]
    for track in tracks:
        list(handler.run_inference([track], model))  # type: ignore[arg-type]
    return time.perf_counter() - start, len(tracks)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--max-side", type=int, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="posebeam-bench-"))
    clip = cut_clip(fetch_sample(cache_dir() / "sample"), work / "in" / "clip.avi", args.frames)

    with open(clip, "rb") as handle, VideoReader(handle, max_side=args.max_side) as reader:
        frames = [frame.rgb for frame in reader.frames()]
    backend = create_backend(DEFAULT_BACKEND)
    backend.estimate(frames[:1])  # warm-up
    start = time.perf_counter()
    persons = sum(len(poses) for poses in backend.estimate(frames))
    alone_fps = len(frames) / (time.perf_counter() - start)

    argv = ["--input", str(clip.parent), "--output", str(work / "out")]
    if args.max_side:
        argv += ["--max_side", str(args.max_side)]
    start = time.perf_counter()
    summary = summarise(launch(argv))
    pipeline_fps = summary.frames / (time.perf_counter() - start)

    parquet_bytes = sum(f.stat().st_size for f in (work / "out" / "keypoints").glob("*.parquet"))
    per_person_frame = parquet_bytes / max(summary.person_frames, 1)

    model_s, num_clips = model_stage_seconds(work / "out")
    segment = SegmentConfig(weights=str(SHIPPED_SEGMENTER))
    segmenter_s, num_tracks = track_stage_seconds(work / "out", SegmenterHandler(segment), segment.min_rows)
    embed = EmbedConfig(weights=str(SHIPPED_ALIGNER))
    aligner_s, _ = track_stage_seconds(work / "out", AlignerHandler(embed), embed.min_rows)
    pose_s = len(frames) / alone_fps

    print(f"frames: {len(frames)}, persons found by the pose stage alone: {persons}")
    print(f"pose stage alone:      {alone_fps:7.2f} frames/s")
    print(f"inside the pipeline:   {pipeline_fps:7.2f} frames/s  ({summary})")
    print(f"pipeline overhead:     {alone_fps / pipeline_fps:7.2f}x the pose stage's time")
    print(f"keypoints Parquet:     {per_person_frame:7.1f} B per person-frame (every column)")
    for name, raw in (("raw float32 (x,y,c)", RAW_FLOAT32_BYTES), ("PYSKL raw float16", PYSKL_FLOAT16_BYTES)):
        print(f"{name + ':':22} {raw:7d} B  -> Parquet is {raw / per_person_frame:.2f}x smaller")
    print(
        f"model stage:           {model_s:7.2f} s for {num_clips} clips of the shipped classifier"
        f" = {model_s / pose_s:.2f}x the pose stage's {pose_s:.1f} s"
    )
    print(
        f"segmenter stage:       {segmenter_s:7.2f} s for {num_tracks} tracks of the shipped segmenter"
        f" = {segmenter_s / pose_s:.3f}x the pose stage's {pose_s:.1f} s"
    )
    print(
        f"aligner stage:         {aligner_s:7.2f} s for {num_tracks} tracks of the shipped aligner"
        f" = {aligner_s / pose_s:.3f}x the pose stage's {pose_s:.1f} s"
    )


if __name__ == "__main__":
    main()
