"""The host driver, unchanged above its transport, against the Verilator model of the whole board
top (BoardTop: UART at bit level -> Link -> Network), verification/runners/board_cosim.py + verification/benches/board_tb.py.

A small seeded network is loaded through the driver (full readback), three samples of generated
spikes and two spiking-FSDD recordings (8-channel cochlea, 12 steps) are classified, and every output item, readout value and prediction must equal the golden
model's; the state read back must equal the golden model's; one WRITE frame with a bad CRC must be
answered by exactly ERROR(BAD_CRC, WRITE), leave the whole state unchanged and show in STATUS; a
WRITE corrupted on the way is resent by the driver. Figures go to build/reports/board-cosim.json.
"""

import json
import time

import torch

from delay_training.model import predict
from golden_model import CLEAR, CoreConfig, GoldenNetwork, encode_event, load_words, \
    random_params, raster_words
from hostlink import frames as fr
from hostlink.driver import readout
from verification.runners.board_cosim import ROOT, config_dict, run
from spike_datasets import CochleaConfig, list_recordings
from spike_datasets.fsdd import encode_recordings
from test_link import WEIGHT, CoreModel

SEED = 11
CFG = CoreConfig(n_in=8, sizes=(12,), n_out=4, weight_bits=4, depth=8, v_bits=12)
N_SAMPLES, N_FSDD, N_STEPS = 3, 2, 12
REPORT = ROOT / "build" / "reports" / "board-cosim.json"


def make_case():
    params = random_params(CFG, SEED, threshold_scale=0.3)
    g = torch.Generator().manual_seed(SEED)
    x = (torch.rand(N_SAMPLES, N_STEPS, CFG.n_in, generator=g) < 0.3).to(torch.int64)
    # Two spiking-FSDD test recordings through an 8-channel cochlea, after the generated ones.
    recs = [r for r in list_recordings() if r.index == 0 and r.speaker == "jackson"][:N_FSDD]
    assert len(recs) == N_FSDD, "FSDD test recordings missing"
    fsdd = encode_recordings(recs, CochleaConfig(n_channels=CFG.n_in, n_steps=N_STEPS),
                             cache=False, progress=False).spikes.to(torch.int64)
    assert fsdd.sum() > 20, "almost no FSDD input spikes"
    x = torch.cat([x, fsdd])
    samples = [raster_words(x[i]) for i in range(x.shape[0])]
    model = CoreModel(params)
    items = [model.events([encode_event(CLEAR)] + w) for w in samples]   # state after the last
    state = [model.read(*r) for r in model.state_records()]
    good = (0, WEIGHT, 5, int(params.layers[0].weight.reshape(-1)[5]))   # a write changing nothing
    case = {"config": config_dict(CFG), "writes": [list(w) for w in load_words(params)],
            "samples": samples, "state_records": [list(r) for r in model.state_records()],
            "corrupt": {"good": list(good)}}
    return params, x, case, items, state


def test_driver_through_board_top_on_verilator():
    params, x, case, want_items, want_state = make_case()
    golden = GoldenNetwork(params).run(x)
    assert golden["spikes"][0].sum() > 0, f"seed {SEED}: hidden layer silent, test proves little"
    t0 = time.time()
    r = run(case, name=f"board-seed{SEED}")
    if not r.get("passed") or "samples" not in r:
        rw = run(case, name=f"board-seed{SEED}", waves=True)
        raise AssertionError(f"seed {SEED}: {r.get('error')} (log {r['sim_log']}, "
                             f"waves {rw.get('waveform')})")
    wall = time.time() - t0

    got_items = [[tuple(i) for i in s] for s in r["samples"]]
    assert got_items == want_items, f"seed {SEED}: output items differ from the golden model"
    rtl = torch.tensor([readout(s, CFG.n_out) for s in got_items], dtype=torch.int64)
    assert torch.equal(rtl, golden["readout"]), f"seed {SEED}: readout differs from golden"
    assert torch.equal(predict(rtl), predict(golden["readout"]))
    assert r["ping"] == {"magic": "DSNN", "version": 1, "n_layers": CFG.n_layers}
    assert r["load"]["checked"] == r["load"]["writes"] == len(case["writes"])

    assert r["state_before"] == want_state, f"seed {SEED}: state after the samples differs"
    assert r["corrupt_answer"] == [[fr.ERROR, bytes([fr.BAD_CRC, fr.WRITE]).hex()]]
    assert r["state_after"] == r["state_before"], f"seed {SEED}: the bad frame changed the state"
    assert r["status"]["bad_crc"] == 1
    assert [r["status"][k] for k in ("truncated", "unknown_cmd", "bad_length")] == [0, 0, 0]
    assert r["resend_applied"] == 1 and r["stats"]["resends"] == 1
    assert r["stats"]["errors_received"] == 1
    assert r["state_final"] == r["state_before"]
    assert r["uart_frame_errors"] == 0

    figures = {k: r[k] for k in ("cycles", "bytes_to_device", "bytes_from_device", "divider",
                                 "build_seconds", "sim_seconds", "sim_wall_s", "phases", "stats")}
    figures.update(seed=SEED, config=config_dict(CFG), generated_samples=N_SAMPLES,
                   fsdd_samples=N_FSDD, steps=N_STEPS,
                   writes=len(case["writes"]), predictions=predict(rtl).tolist(),
                   predictions_match=True, test_wall_seconds=round(wall, 1))
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(figures, indent=1, default=str))
