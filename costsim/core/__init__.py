"""Vectorized numpy core: arrays of configurations in, arrays out. Imports numpy only."""
