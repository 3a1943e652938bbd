"""Inbound routing: callers on the DCC's inbound lines reach the lead's owner, then the queue (docs/inbound.md)."""
