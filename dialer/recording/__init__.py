"""Call recordings: the registry, retention, compression, disk watch and safe file serving.

This package is the adapter for recording files on disk (docs/recording.md):

- :mod:`~dialer.recording.model`: the registry record and the disk status (pure).
- :mod:`~dialer.recording.media`: WAV header and checksum of a file.
- :mod:`~dialer.recording.registry`: ``register_finished(attempt)`` and ``reconcile()``.
- :mod:`~dialer.recording.retention`: deleting what is past retention, audited.
- :mod:`~dialer.recording.compress`: lossless FLAC after the call (sox).
- :mod:`~dialer.recording.disk`: free-space check and the keep/stop-recording decision.
- :mod:`~dialer.recording.serving`: registry row -> path strictly inside the folder; HTTP Range parsing.
"""
