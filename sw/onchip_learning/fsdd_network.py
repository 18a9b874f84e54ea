"""Demo c's network on spiking FSDD: a fixed hidden layer the host builds, a readout learned on chip.

The library half of demo c (docs/learning.md section 9): the image `fsdd_network` builds, the bias
channel the host drives, the data sets, and the settings chosen on validation by the search
(`onchip_learning.fsdd_search`). `demos`, `hidden_layers`, `fast_pair_r` and the study scripts
import it; it imports none of them.
"""

from __future__ import annotations

import torch

from golden_model import CoreConfig, NetworkParams, random_params
from delay_training.data import load_task


# The host's lr_shift_R per epoch (None: FSDD_REGS throughout).
FSDD_LR_SCHEDULE: list[int] | None = [8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 12, 12]
# The fixed hidden layer of demo c (hidden_layers.build_network; chosen on validation by
# `python -m onchip_learning.fsdd_search`): spectral-contrast bands, gains calibrated to 0.1
# spikes per step on 300 unlabelled training samples. The first demo c used the uniform sparse
# layer of fsdd_network with these options (still the fsdd_study baseline).
FSDD_HIDDEN: dict = dict(kind="pair", width=(20, 80), density=0.5, rate=0.1, threshold=600)
FSDD_UNIFORM_NET: dict = dict(threshold_scale=0.0625, bias=True)
CALIBRATION_SAMPLES = 300



def fsdd_network(hidden: int = 128, seed: int = 0, *, density: float = 0.3,
                 threshold_scale: float = 0.5, leak: int = 3, bias: bool = False) -> NetworkParams:
    """700 -> hidden -> 10, 8-bit weights, D=32: seeded random sparse hidden weights (fixed), all
    delays 0, readout weights 0.

    `bias` adds the readout's bias unit: one more input channel (the last, which the host drives
    on every step, `with_bias_channel`) whose only synapse goes, with the largest weight, to one
    more hidden neuron (the last, fed by nothing else), which then fires at a fixed rate. Its
    readout weights learn like any other and act as per-class offsets. The hidden features the
    rule sees are all non-negative; without an offset the hinge updates of every class share one
    large common component, and learning is slow and noisy (docs/learning.md, section 9)."""
    cfg = CoreConfig(n_in=700 + bias, sizes=(hidden + bias,), n_out=10, weight_bits=8, depth=32)
    params = random_params(cfg, seed, delays="zero", threshold_scale=threshold_scale, density=density)
    if bias:
        w = params.layers[0].weight
        w[700, :] = 0
        w[:, hidden] = 0
        w[700, hidden] = cfg.weight_range[1]
    params.layers[0].leak = leak
    params.layers[-1].weight.zero_()
    params.layers[-1].leak, params.layers[-1].weight_shift = 4, 0
    return params


def with_bias_channel(spikes: torch.Tensor) -> torch.Tensor:
    """[N, T, C] -> [N, T, C + 1]: the bias channel (the last) spikes on every step."""
    on = torch.ones(spikes.shape[:-1] + (1,), dtype=spikes.dtype)
    return torch.cat([spikes, on], -1)


def fsdd_sets(bias: bool):
    """(train, validation, test) of spiking FSDD (official split) as (spikes, labels) pairs, with
    the bias channel when the network has one."""
    s = load_task("fsdd")
    f = with_bias_channel if bias else (lambda x: x)
    return tuple((f(d.spikes), d.labels) for d in (s.train, s.val, s.test))
