"""What many runs give back: comparisons, sweeps, statistics, detection analysis and advice.

Uses the scenario, the engine and the results; nothing in the model or engine imports it.
"""
