"""Benchmarks: each prints one JSON object per metric on stdout (value, baseline, ratio, goal).

Machines are noisy (2 shared cores), so goals are stated as ratios against a baseline
measured in the same run wherever a baseline makes sense.
"""
