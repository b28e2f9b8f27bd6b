"""``DecodeAndEstimatePoses``: the fused decode → detect → pose → track stage.

Files are hashed; identical files are decoded once. A video of two ``--window_s`` or more is cut
into time windows (:mod:`posebeam.transforms.video_windows`) that run as separate work items, so a
long video spreads over workers; each window's results meet their video's others again and are
stitched into one keypoints table (:mod:`posebeam.pipeline.window_results`). Frames never leave
the DoFn; only keypoint tables and small ``videos``/``failures`` rows do. Each input file ends in
exactly one of the ``videos`` or ``failures`` outputs. A video's keypoints are emitted only
together with its ``videos`` row, so a failure never leaves orphan keypoint rows. The work on each
window (:mod:`posebeam.pipeline.pose_stage`) runs in a child process
(:mod:`posebeam.pipeline.isolation`): a native crash becomes a ``crash`` failure of that video.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.fileio import ReadableFile

from posebeam.models.pose_backend import BACKENDS
from posebeam.pipeline.isolation import PROBE_ONLY, IsolatedPoseStage, discard_spare, prestart
from posebeam.pipeline.pose_stage import ExtractConfig, StageCounts, StageError
from posebeam.pipeline.progress import record_event
from posebeam.pipeline.results_cache import ResultsCache
from posebeam.pipeline.video_result import VideoResult
from posebeam.pipeline.window_results import combine_windows
from posebeam.storage.video import content_hash
from posebeam.transforms.video_windows import TimeWindow, overlap_s, plan_windows

log = logging.getLogger(__name__)

VIDEOS_TAG = "videos"
FAILURES_TAG = "failures"
METRICS_NAMESPACE = "posebeam"


class EmptyFile(ValueError):
    """A zero-byte input."""


def _read_content_hash(readable: ReadableFile) -> str:
    """The input's ``video_id``; a :class:`StageError` at stage ``read`` when it cannot be read."""
    if readable.metadata.size_in_bytes == 0:
        raise StageError("read", EmptyFile("the file is empty (0 bytes)"))
    try:
        with readable.open() as fileobj:
            return content_hash(fileobj)
    except Exception as err:
        raise StageError("read", err) from err


class HashInputsFn(beam.DoFn):
    """ReadableFile → ``(video_id, uri)``, or a ``failures`` row (tagged) when it cannot be read."""

    def __init__(self, progress_dir: str | None = None) -> None:
        self._failed = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "failures")
        self._progress_dir = progress_dir

    def process(self, readable: ReadableFile) -> Iterator[Any]:
        uri = readable.metadata.path
        try:
            yield _read_content_hash(readable), uri
        except StageError as err:
            failure = err.as_result(uri, None).failure
            assert failure is not None
            self._failed.inc()
            record_event(self._progress_dir, inputs=1, failed=1)
            log.warning("%s cannot be read: %s", uri, failure["message"])
            yield beam.pvalue.TaggedOutput(FAILURES_TAG, failure)


class PlanWindowsFn(beam.DoFn):
    """``(video_id, uris)`` → ``(video_id, (uris, window))`` per time window of the video."""

    def __init__(self, config: ExtractConfig) -> None:
        self._config = config
        self._probe: IsolatedPoseStage | None = None
        self._windows = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "windows")

    def setup(self) -> None:
        self._probe = IsolatedPoseStage(self._config, PROBE_ONLY)  # its child starts on first use
        if not self._config.resume:  # (a resumed run may find every window in its cache)
            prestart(self._config, BACKENDS[self._config.backend])  # the pose stage's, loading meanwhile

    def finish_bundle(self) -> None:
        # The probe child (a Python with PyAV, ~250 MB) is not kept beside the pose children while
        # they work: a later bundle starts a new one.
        if self._probe is not None:
            self._probe.close()

    def teardown(self) -> None:
        self.finish_bundle()
        discard_spare(self._config, BACKENDS[self._config.backend])  # when no pose stage took it

    def process(
        self, element: tuple[str, Iterable[str]]
    ) -> Iterator[tuple[str, tuple[list[str], TimeWindow]]]:
        video_id, uris = element[0], sorted(set(element[1]))
        config = self._config
        duration = None
        if config.window_s:
            assert self._probe is not None, "setup() starts the probe"
            duration = self._probe.duration_s(uris[0])
        windows = plan_windows(duration, config.window_s, overlap_s(config.track_max_gap_s, config.fps))
        self._windows.inc(len(windows))
        for window in windows:
            yield video_id, (uris, window)


class DecodeAndEstimatePosesFn(beam.DoFn):
    """``(video_id, (uris, window))`` → ``(video_id, (uris, window, result))``: the pose stage's result on
    one window of the first of identical files (cached by window when the run keeps a cache)."""

    def __init__(self, config: ExtractConfig) -> None:
        self._config = config
        self._stage: IsolatedPoseStage | None = None
        counter = beam.metrics.Metrics.counter
        self._frames = counter(METRICS_NAMESPACE, "frames")
        self._persons = counter(METRICS_NAMESPACE, "person_frames")
        self._decode_errors = counter(METRICS_NAMESPACE, "decode_errors")
        self._resumed = counter(METRICS_NAMESPACE, "resumed")
        self._cache: ResultsCache | None = None

    def setup(self) -> None:
        self._stage = IsolatedPoseStage(self._config, BACKENDS[self._config.backend])
        root = self._config.cache_root
        self._cache = ResultsCache(root) if root else None

    def teardown(self) -> None:
        if self._stage is not None:
            self._stage.close()

    def process(
        self, element: tuple[str, tuple[list[str], TimeWindow]]
    ) -> Iterator[tuple[str, tuple[list[str], TimeWindow, VideoResult]]]:
        video_id, (uris, window) = element
        key = window.cache_key(video_id)
        result = self._cache.load(key) if self._cache and self._config.resume else None
        counts = StageCounts()
        if result is not None:
            self._resumed.inc()
        else:
            assert self._stage is not None, "setup() starts the pose stage"
            result, counts = self._stage.run(uris[0], video_id, window)
            self._frames.inc(counts.frames)
            self._persons.inc(counts.person_frames)
            self._decode_errors.inc(counts.decode_errors)
            if self._cache:
                self._cache.store(key, result)
        record_event(
            self._config.progress_dir, video=video_id, window=window.index, windows=window.count,
            uris=len(uris), failed=int(result.failure is not None), frames=counts.frames,
        )  # fmt: skip
        yield video_id, (uris, window, result)


class StitchWindowsFn(beam.DoFn):
    """``(video_id, [(uris, window, result)])`` → one keypoints table (main), and per uri a ``videos``
    or ``failures`` row (tagged)."""

    def __init__(self, high_score: float) -> None:
        self._high_score = high_score  # the tracker's confident score, for provisional tracks
        counter = beam.metrics.Metrics.counter
        self._videos = counter(METRICS_NAMESPACE, "videos")
        self._failed = counter(METRICS_NAMESPACE, "failures")
        self._persons = counter(METRICS_NAMESPACE, "persons")

    def process(
        self, element: tuple[str, Iterable[tuple[list[str], TimeWindow, VideoResult]]]
    ) -> Iterator[Any]:
        video_id, windows = element[0], list(element[1])
        uris = windows[0][0]
        pairs = [(window, result) for _, window, result in windows]
        result = combine_windows(uris[0], video_id, pairs, self._high_score)
        if result.failure is None:
            yield result.keypoints  # once per content, whatever the number of copies
        for uri in uris:
            yield from self._emit(uri, result.with_uri(uri))

    def _emit(self, uri: str, result: VideoResult) -> Iterator[Any]:
        if result.failure is not None:
            self._failed.inc()
            failure = result.failure
            log.warning("%s failed at %s: %s", uri, failure["stage"], failure["message"])
            yield beam.pvalue.TaggedOutput(FAILURES_TAG, failure)
            return
        video = result.video
        assert video is not None, "a result without failure has a videos row"
        self._videos.inc()
        self._persons.inc(int(video["persons_found"]))
        yield beam.pvalue.TaggedOutput(VIDEOS_TAG, video)


class DecodeAndEstimatePoses(beam.PTransform):
    """PCollection[ReadableFile] → ``{"keypoints": Arrow tables, "videos": rows, "failures": rows}``.

    Files are hashed first; identical files (one ``video_id``) are grouped and decoded once: their
    keypoints are emitted once, and each file gets its own ``videos`` row (or ``failures`` row).
    Long videos run window by window on any worker and are stitched back together."""

    def __init__(self, config: ExtractConfig) -> None:
        super().__init__()
        self._config = config

    def expand(self, files: beam.PCollection) -> dict[str, beam.PCollection]:
        hashed = (
            files
            | "SpreadInputs" >> beam.Reshuffle()
            | "HashInputs"
            >> beam.ParDo(HashInputsFn(self._config.progress_dir)).with_outputs(FAILURES_TAG, main="hashed")
        )
        poses = (
            hashed["hashed"]
            | "GroupIdenticalFiles" >> beam.GroupByKey()
            | "PlanWindows" >> beam.ParDo(PlanWindowsFn(self._config))
            | "SpreadWindows" >> beam.Reshuffle()
            | "DecodeDetectPoseTrack" >> beam.ParDo(DecodeAndEstimatePosesFn(self._config))
            | "GatherWindows" >> beam.GroupByKey()
            | "StitchWindows"
            >> beam.ParDo(StitchWindowsFn(self._config.track_high_score)).with_outputs(
                VIDEOS_TAG, FAILURES_TAG, main="keypoints"
            )
        )
        failures = (hashed[FAILURES_TAG], poses[FAILURES_TAG]) | "ExtractFailures" >> beam.Flatten()
        return {"keypoints": poses["keypoints"], VIDEOS_TAG: poses[VIDEOS_TAG], FAILURES_TAG: failures}
