"""`delaysnn`: the one command line of the kit (train, eval, export, check, deploy, run, learn,
sweep, bench, perf, bitstream, demo, nir); `delaysnn --help` lists them. Each subcommand is the
`add_arguments(parser)` / `run(args)` pair of the module that does the work (delaysnn.cli)."""
