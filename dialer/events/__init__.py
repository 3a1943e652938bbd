"""In-process publish/subscribe of typed events for the faces (see :mod:`dialer.events.bus`)."""
