"""Recordings: the registry record, the disk status and WAV facts (pure; docs/recording.md)."""
