"""Verilator builds and the runs of the cocotb benches on cases; the regressions."""
