"""The campaign engine's pure core: definitions, lifecycle, agents, pacing, retries, calling windows,
priority, progress records and the answer to "why is this lead not dialled"."""
