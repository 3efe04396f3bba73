"""Benchmarks that run from a clone (TUI latency, imports); the PostgreSQL one is station.bench."""
