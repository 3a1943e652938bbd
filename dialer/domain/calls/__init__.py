"""The call model: states, outcomes and the I/O-free state machine that decides them."""
