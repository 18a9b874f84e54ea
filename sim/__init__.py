"""Verilator regression of the core against the golden model."""
