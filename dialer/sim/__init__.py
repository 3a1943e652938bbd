"""Discrete-event simulation of a campaign in virtual time.

It runs the real campaign core (agent sessions, pacers, pacing statistics, retry policy,
calling windows, priority) against a seeded stochastic model of customers and agents, so
pacing can be tuned and compared without a PBX, reproducibly, in seconds.
"""
