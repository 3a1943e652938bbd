"""Inbound routing rules (owner first, then the queue) and their errors."""
