"""Training inputs of ``rgb_heatmap_mstcn``: the heatmap segmenter's, plus each track's RGB crops.

Each track's crops are cut once, before training, from its video (the ``videos`` table's ``uri``,
e.g. ``posebeam synth --render``): every frame in the track's clean smoothed box, at ``rgb_size``
pixels (:func:`~posebeam.transforms.rgb_crops.track_crops`, one decoding pass per video, 3 KB a
frame at 32²). Views carry them: an augmented view mirrors them with its heatmaps (its jittered
box and dropped keypoints apply to the heatmaps only: the picture of a person does not go missing
when the pose estimator loses a joint). Step (a) adds the RGB head's cross-entropy on the same
frames to the pose head's; step (b) trains MS-TCN++ on both streams' features.

A track whose video cannot be read stops the run, naming the video (as the RGBPose classifier's
training does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from posebeam.models.rgb_segmenter import RGBHeatmapSegmenter
from posebeam.storage.uris import open_input
from posebeam.storage.video import READ_ERRORS, VideoReader
from posebeam.training.datasets import FrameSequence
from posebeam.training.rgbpose_inputs import TrainingVideoError, video_uris
from posebeam.training.segmenter_inputs import SegmenterInputs, TrackView, clean_view
from posebeam.transforms.clip_inputs import CardSpec
from posebeam.transforms.rgb_crops import RGBSegmenterSpec, standardise_crops, track_crops

TrackId = tuple[str, int, int]
"""video_id, person_id, start_frame."""


def sequence_crops(
    data: str, sequences: Sequence[FrameSequence], spec: RGBSegmenterSpec
) -> dict[TrackId, np.ndarray]:
    """``(T, s, s, 3)`` crops of every sequence, its frame ``t`` being video frame ``start_frame + t``;
    each video is decoded once."""
    uris = video_uris(data, sequences)
    crops: dict[TrackId, np.ndarray] = {}
    for video_id in sorted({s.video_id for s in sequences}):
        tracks = [s for s in sequences if s.video_id == video_id]
        frames = np.concatenate([s.start_frame + np.arange(len(s.labels)) for s in tracks])
        boxes = np.concatenate([clean_view(s, spec).boxes for s in tracks])
        try:
            with open_input(uris[video_id]) as handle, VideoReader(handle) as reader:
                decoded = ((frame.index, frame.rgb) for frame in reader.frames())
                cut = track_crops(decoded, frames, boxes, spec.rgb_size)
        except READ_ERRORS as err:
            raise TrainingVideoError(f"video {video_id} ({uris[video_id]}) cannot be read: {err}") from None
        ends = np.cumsum([len(s.labels) for s in tracks])
        for sequence, part in zip(tracks, np.split(cut, ends[:-1]), strict=True):
            crops[(sequence.video_id, sequence.person_id, sequence.start_frame)] = part
    return crops


@dataclass(frozen=True)
class RGBSegmenterInputs(SegmenterInputs):
    """:class:`SegmenterInputs` whose views carry their track's RGB crops (module doc)."""

    crops: dict[TrackId, np.ndarray] = field(default_factory=dict)

    @classmethod
    def for_samples(cls, spec: CardSpec, data: str, samples: Sequence[Any]) -> RGBSegmenterInputs:
        assert isinstance(spec, RGBSegmenterSpec)
        return cls(spec, crops=sequence_crops(data, samples, spec))

    def _with_crops(self, sequence: FrameSequence, view: TrackView) -> TrackView:
        return replace(view, rgb=self.crops[(sequence.video_id, sequence.person_id, sequence.start_frame)])

    def clean_view(self, sequence: FrameSequence) -> TrackView:
        return self._with_crops(sequence, super().clean_view(sequence))

    def augmented_view(self, sequence: FrameSequence, rng: np.random.Generator) -> TrackView:
        return self._with_crops(sequence, super().augmented_view(sequence, rng))

    def loss(
        self, model: nn.Module, batch: Sequence[tuple[TrackView, int]], rng: np.random.Generator
    ) -> Tensor:
        """The pose head's cross-entropy plus the RGB head's, on the same frames (step a)."""
        assert isinstance(model, RGBHeatmapSegmenter)
        device = next(model.parameters()).device
        assert all(view.rgb is not None for view, _ in batch), "views of these inputs carry their crops"
        crops = standardise_crops(np.stack([view.rgb[t] for view, t in batch if view.rgb is not None]))
        flipped = np.array([view.flip for view, _ in batch])
        crops[flipped] = crops[flipped][..., ::-1]
        labels = torch.tensor([view.labels[t] for view, t in batch], device=device)
        rgb_logits = model.rgb_head(model.frame_dropout(model.encode_rgb(torch.from_numpy(crops).to(device))))
        return super().loss(model, batch, rng) + nn.functional.cross_entropy(rgb_logits, labels)
