"""End to end: an exported network classifies spiking-FSDD test recordings through the host
driver and the framed link into the RTL (amaranth.sim, byte level), and every prediction and
readout value equals the golden model's and the PyTorch hardware-mode model's.

The network is small (32 cochlea channels, 16 hidden, 10 readout, 40 steps) so the simulation
stays fast, and untrained (seeded): this checks the flow is exact, not the accuracy. Once with
the input delay stage (one delay per cochlea channel, loaded and read back as layer 15).
"""

import pytest
import torch

from delay_training.export import to_params
from delay_training.model import DelaySNN, ModelConfig, predict
from golden_model import GoldenNetwork, raster_words
from hostlink.driver import CoreLink, readout
from hostlink.transports import SimTransport
from spike_datasets import CochleaConfig, list_recordings
from spike_datasets.fsdd import encode_recordings

SEED = 3


@pytest.mark.parametrize("input_delays", [False, True], ids=["plain", "input-delays"])
def test_fsdd_through_link_equals_golden_and_model(input_delays):
    recs = [r for r in list_recordings() if r.index == 0 and r.speaker == "jackson"][:4]
    assert len(recs) == 4, "FSDD test recordings missing"
    data = encode_recordings(recs, CochleaConfig(n_channels=32, n_steps=40), cache=False,
                             progress=False)
    x = data.spikes.to(torch.int64)
    assert x.sum() > 100, f"seed {SEED}: almost no input spikes"
    model = DelaySNN(ModelConfig(n_in=32, sizes=(16,), n_out=10, wbits=1.58, dbits=3,
                                 init_gain=(3.0, 3.0), input_delays=input_delays), seed=SEED)
    params = to_params(model)
    if input_delays:
        assert len(set(params.input_delay.tolist())) > 4, f"seed {SEED}: input delays all alike"
    golden = GoldenNetwork(params).run(x)
    with torch.no_grad():
        model_readout = model(x.to(torch.float32))["readout"]
    assert torch.equal(model_readout.round().to(torch.int64), golden["readout"]), f"seed {SEED}"
    assert golden["spikes"][0].sum() > 0, f"seed {SEED}: hidden layer silent, test proves little"

    link = CoreLink(SimTransport(params.config))
    link.load_image(params, verify="full")
    rtl = []
    for i in range(x.shape[0]):
        items = link.run_sample(raster_words(data.spikes[i]), n_out=10)
        rtl.append(readout(items, 10))
    rtl = torch.tensor(rtl, dtype=torch.int64)
    assert torch.equal(rtl, golden["readout"]), f"seed {SEED}: RTL readout differs from golden"
    assert torch.equal(predict(rtl), predict(golden["readout"]))
    assert torch.equal(predict(rtl), predict(model_readout))
