"""The campaign engine's pure core: agents, pacing, retries, calling windows and priority.

Nothing here does I/O or sleeps: every function takes events and times (from the one
clock) and returns decisions, so the real runner and the simulator run the same code.
"""
