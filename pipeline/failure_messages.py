"""Failure reasons in a user's terms: what went wrong with the file, not which exception was raised.

:func:`describe` turns the exception behind a ``failures`` row into its ``message``; the row's
``error_type`` keeps the exception's class for whoever debugs. A test walks the bad-input corpus and
checks that no message reads like an internal exception text.
"""

from __future__ import annotations

import errno
import signal

import av.error

from posebeam.storage.video import NoFramesDecoded, NoVideoStream

INTERNAL_TEXT = ("NoneType", "object has no attribute", "Traceback", "[Errno", "Errno ", "index out of range")
"""Fragments that mark a message as an exception's text rather than a reason."""


def _ffmpeg_reason(err: av.error.FFmpegError) -> str:
    return (err.strerror or str(err)).strip().rstrip(".").lower()


def _open_reason(err: BaseException) -> str:
    if isinstance(err, NoVideoStream):
        return str(err)
    if isinstance(err, av.error.EOFError | EOFError):
        return "the file ends inside its header: it is cut short (an incomplete copy or download)"
    if isinstance(err, av.error.InvalidDataError):
        return (
            "FFmpeg found no video it can read in the file: it is not a video, or its header or "
            "index is damaged"
        )
    if isinstance(err, av.error.FFmpegError) and err.errno in (errno.EBUSY, errno.ENOMEM, errno.EINVAL):
        return (
            "FFmpeg refused the stream's parameters (for example a frame size in the header far "
            "too large to decode): the header is damaged or the file is not a supported video"
        )
    if isinstance(err, av.error.FFmpegError):
        return f"FFmpeg cannot open the file as a video: {_ffmpeg_reason(err)}"
    if isinstance(err, AttributeError | TypeError | ValueError):
        return (
            "the file's video stream has no usable codec parameters: the file may be incomplete "
            "(its index is missing or cut) or damaged"
        )
    if isinstance(err, OSError):
        return f"the file cannot be read: {(err.strerror or str(err)).lower()}"
    return f"the file cannot be opened as a video ({type(err).__name__})"


def describe(stage: str, err: BaseException) -> str:
    """The ``failures.message`` for ``err`` raised at ``stage``."""
    if stage == "read":
        if isinstance(err, OSError) and not isinstance(err, av.error.FFmpegError):
            return f"the file cannot be read: {(err.strerror or str(err)).lower()}"
        return str(err)
    if stage == "open":
        return _open_reason(err)
    if stage == "decode":
        if isinstance(err, NoFramesDecoded):
            return f"no frame of the video stream could be decoded (FFmpeg: {err})"
        return f"decoding failed: {err}"
    if stage == "pose":
        return f"the pose backend failed on this video: {err}"
    return f"an unexpected error, a posebeam bug (please report it): {type(err).__name__}: {err}"


def crash_reason(returncode: int, what: str) -> str:
    """A child process that died: its signal named (``SIGSEGV``), or its exit status."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return (
            f"native code crashed ({name}) while {what}; this video was skipped and the other "
            "videos were not affected"
        )
    return f"the worker process exited with status {returncode} while {what}; this video was skipped"
