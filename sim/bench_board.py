"""Speed on the boards: time per sample at the achieved fmax, from the cycle model, checked
against a Verilator run; written to build/reports/bench-board.json.

Input is spiking FSDD (the official test split, 1 s per sample, 100 steps of 10 ms). The network
is the one `make bitstream` builds (700-128-20 ternary, D=32) with seeded random weights: the
hidden-layer activity of a trained network will differ, and with it the update-phase stalls.
"""

import json
import statistics


from golden_model import CoreConfig, GoldenNetwork, random_params, schedule, raster_words, SPIKE
from spike_datasets import load_fsdd
from .cases import make_case
from .cosim import run, ROOT

UART_BAUD = 115200
EVENT_BYTES = 3          # docs/link.md: one event word per 3 payload bytes (frame overhead aside)


def main(samples: int = 20):
    boards = {}
    for board in ("icebreaker", "ulx3s"):
        path = ROOT / "build" / "reports" / f"bitstream-{board}.json"
        if path.exists():
            boards[board] = json.loads(path.read_text())
    cfg = CoreConfig(n_in=700, sizes=(128,), n_out=20, weight_bits=2, ternary=True, depth=32,
                     weights_per_word=8)
    params = random_params(cfg, 5, threshold_scale=0.3)
    net = GoldenNetwork(params)
    data = load_fsdd("test", progress=False)
    cycles, accs, events = [], [], []
    for i in range(samples):
        words = raster_words(data.spikes[i])
        sched = schedule(cfg, words, net.run_stream(words))
        cycles.append(sched.step_end_cycles[-1] + 1)
        accs.append(sched.accumulates)
        events.append(sum(1 for w in words if w & 3 == SPIKE))
    # The model is checked against the RTL on one sample of the same network and input.
    case = make_case("bench-board", cfg, 5, steps=1, mode="cycle")
    case_words = raster_words(data.spikes[0][:20])
    res = net.run_stream(case_words)
    sched = schedule(cfg, case_words, res)
    case.update(words=case_words, expect=dict(case["expect"], outputs=[list(o) for o in res.outputs],
                output_cycles=sched.output_cycles, input_accept_cycles=sched.input_accept_cycles,
                step_end_cycles=sched.step_end_cycles, dropped_kind=0, dropped_addr=0,
                dropped_excess=0, steps=20),
                max_cycles=10 * sched.step_end_cycles[-1] + 10_000)
    check = run(case)
    mean_cycles = statistics.mean(cycles)
    report = {"network": "700-128-20 ternary, D=32, random seeded weights",
              "input": f"spiking FSDD official test split, first {samples} samples, 100 steps = 1 s",
              "mean_input_events_per_sample": statistics.mean(events),
              "mean_cycles_per_sample": mean_cycles, "max_cycles_per_sample": max(cycles),
              "cycle_model_checked_on_rtl": bool(check["passed"]),
              "bound": "one synaptic accumulate per cycle per layer (one weight-memory read port)",
              "boards": {}}
    for board, rep in boards.items():
        clk = rep.get("core_clock_mhz", rep["board_clock_mhz"]) * 1e6
        t = mean_cycles / clk
        uart_s = statistics.mean(events) * EVENT_BYTES * 10 / UART_BAUD
        report["boards"][board] = {
            "core_clock_mhz": clk / 1e6, "achieved_fmax_mhz": rep["achieved_fmax_mhz"],
            "seconds_per_sample_core": round(t, 4),
            "real_time_factor_core": round(1.0 / t, 1),
            "synaptic_ops_per_s": round(statistics.mean(accs) / t),
            "bound_synaptic_ops_per_s": clk,
            "seconds_per_sample_uart_115200": round(uart_s, 3),
            "real_time_factor_end_to_end": round(1.0 / max(t, uart_s), 2)}
    out = ROOT / "build" / "reports" / "bench-board.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
