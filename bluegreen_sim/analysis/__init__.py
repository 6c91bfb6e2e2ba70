"""What many runs give back: comparisons, sweeps, statistics, detection analysis and advice.

This package uses the model and the engine, never the other way round.
"""
