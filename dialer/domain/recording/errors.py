"""The recording package's errors: one base, flat below it."""

from __future__ import annotations


class RecordingError(Exception):
    """Base of everything the recording package raises on purpose."""


class BadRecording(RecordingError):
    """A recording file is not what MixMonitor writes (not a WAV, wrong format, truncated); names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"recording {path!r}: {reason}")
        self.path = path
        self.reason = reason


class UnfinishedRecording(BadRecording):
    """A WAV whose header does not (yet) account for its bytes: MixMonitor closes a call's file in its own
    thread after the PBX reports the hangup, and only then writes the sizes into the header. Read again
    later, it may be whole; a file still like this long after its call was cut short (the PBX died)."""


class UnsafePath(RecordingError):
    """A recording path would leave the recordings folder (traversal, symlink, absolute path, NUL)."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"recording path {value!r}: {reason}")
        self.value = value
        self.reason = reason


class CompressionFailed(RecordingError):
    """The compressor could not produce a verified copy; the original file is kept."""


class RecordingNotFound(RecordingError):
    """No registry row with that id (or call id)."""
