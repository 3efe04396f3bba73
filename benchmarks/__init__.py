"""Benchmarks for the station's database layer (run them; they print figures)."""
