"""Speed figures (benchmarks, not timed tests): `core` (the core on Verilator: accumulates per
cycle, simulation speed), `board` (the board top end to end through the link: real-time factor),
`lanes` (cycles per timestep against lanes, from the golden schedule). Each writes
build/reports/*.json; `delaysnn bench` runs them with the training benchmark."""
