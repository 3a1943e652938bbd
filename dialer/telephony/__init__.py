"""Telephony services: placing calls through the PBX and following them to an outcome."""
