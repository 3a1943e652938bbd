"""Backups of the store and the recordings: the manifest, its checks, the schedule and retention."""
