"""Backup and restore of the store and the recordings (docs/backup.md)."""
