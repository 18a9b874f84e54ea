"""Fixtures shared by the learning tests."""

import pytest


@pytest.fixture(scope="session")
def george_run(tmp_path_factory):
    """A tiny LOSO run without george (the default recipe's shape: one LIF layer, input delays,
    shift leak; 16 neurons, 1 epoch on 200 recordings), trained here so that the tests need no
    build/train; the FSDD spikes cache is shared, so loading is quick after the first time."""
    from delay_training.train import make_config, train
    tmp = tmp_path_factory.mktemp("adapt-run")
    cfg = make_config("fsdd-loso", test_speaker="george", input_delays=True, sizes=(16,), epochs=1,
                      n_train=200, seed=0, out=str(tmp / "run"), report=str(tmp / "report.json"),
                      plots=False, threads=1)
    train(cfg, progress=False)
    assert (tmp / "run" / "export" / "manifest.json").is_file()
    return tmp / "run"


@pytest.fixture(scope="session")
def official_run(tmp_path_factory):
    """The same tiny network trained on FSDD's official split (every speaker's takes 5-49)."""
    from delay_training.train import make_config, train
    tmp = tmp_path_factory.mktemp("adapt-official-run")
    cfg = make_config("fsdd", input_delays=True, sizes=(16,), epochs=1, n_train=200, seed=0,
                      out=str(tmp / "run"), report=str(tmp / "report.json"), plots=False, threads=1)
    train(cfg, progress=False)
    return tmp / "run"
