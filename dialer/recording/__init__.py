"""Call recordings on disk: the registry, retention, compression, disk watch and safe file serving.

- :mod:`~dialer.recording.registry`: ``register_finished(attempt)``, ``reconcile()``, retention.
- :mod:`~dialer.recording.compress`: lossless FLAC after the call (sox).
- :mod:`~dialer.recording.disk`: free-space check and the keep/stop-recording decision.
- :mod:`~dialer.recording.serving`: registry row -> path strictly inside the folder; HTTP Range parsing.

The record and WAV facts are ``dialer.domain.recording`` (docs/recording.md).
"""
