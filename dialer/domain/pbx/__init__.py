"""What the dialer needs from an Asterisk and what it knows about Asterisk's versions."""
