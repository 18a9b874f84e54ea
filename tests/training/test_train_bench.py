"""The training-speed bench's models: which parameters are delays (they get their own Adam rate)."""

import torch

from delay_training.bench import (AxonalSNN, DclsSNN, SynapticDelaySNN, delay_parameters,
                                  n_delay_params)


def test_delay_parameters_of_each_method():
    n_in, hidden, n_out, D = 12, 8, 3, 8
    ax = AxonalSNN(n_in, hidden, n_out, dbits=3)
    assert [tuple(p.shape) for p in delay_parameters(ax)] == [(hidden,)]
    ax_in = AxonalSNN(n_in, hidden, n_out, dbits=3, input_delays=True)
    assert [tuple(p.shape) for p in delay_parameters(ax_in)] == [(hidden,), (n_in,)]
    syn = SynapticDelaySNN(n_in, hidden, n_out, D)
    assert n_delay_params(syn) == n_in * hidden + hidden * n_out
    out_only = SynapticDelaySNN(n_in, hidden, n_out, D, first_layer=False)
    assert n_delay_params(out_only) == hidden * n_out          # the input layer's are frozen
    dcls = DclsSNN(n_in, hidden, n_out, D)
    assert n_delay_params(dcls) == n_in * hidden + hidden * n_out
    # the delays are disjoint from the rest, and every delay is trainable
    for model in (ax, ax_in, syn, out_only, dcls):
        ids = {id(p) for p in delay_parameters(model)}
        assert all(p.requires_grad for p in delay_parameters(model))
        assert any(id(p) not in ids for p in model.parameters())


def test_no_delays_without_delay_bits():
    assert n_delay_params(AxonalSNN(12, 8, 3, dbits=0)) == 0
    assert n_delay_params(AxonalSNN(12, 8, 3, dbits=0, input_delays=True)) == 0
    x = (torch.rand(2, 10, 12) < 0.3).float()
    assert AxonalSNN(12, 8, 3, dbits=0)(x).shape == (2, 3)
