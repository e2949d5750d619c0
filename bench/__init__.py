"""Benchmarks: each measures syndicate against a baseline in the same run."""
