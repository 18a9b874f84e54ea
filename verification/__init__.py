"""Verification of the RTL against the golden model: one home for everything that checks it.

* `verification.cases`: case generators: a configuration, its parameter image, its input and
  what the golden model says must come out (`core` for the core, `learning` for the learning
  engine, `matrix` for the regression's configurations).
* `verification/benches/`: the cocotb benches that play a case on Verilator and score the design
  cycle by cycle (`benchlib`: stream drivers, output monitor, scoreboard; `core_tb`,
  `learning_tb`, `link_tb`, `board_tb`, `soak_tb`). They run inside the simulator, get the case
  as JSON and write what they saw; no torch there.
* `verification.runners`: build a design with Verilator and run a bench on cases (`cosim`), the
  regressions (`regression`: `delaysnn check rtl`; `learning_cosim`: `delaysnn check learning`),
  the post-synthesis netlist (`netlist`), exported networks (`export_check`), the board top with
  its UART (`board_cosim`), learning runs replayed from the golden trajectory (`learning_replay`).

The pytest suite (tests/) drives these; speed figures live in `benchmarks`.
"""
