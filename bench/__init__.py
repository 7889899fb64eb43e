"""Benchmarks: figures printed and written to JSON, each next to a baseline measured in the same run."""
