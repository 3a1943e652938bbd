"""The supervisor's listen, whisper and barge on live agent calls, audited (docs/supervisor.md)."""
