"""Supervision's records: the listen-in audit."""
