"""make demo's summary (sw/deploy/demo.py) from the three stage reports: every figure the issue
asks for is in demo.json and on screen, and a missed target makes the demo fail."""

import json

from deploy import demo


def reports():
    train = {"name": "fsdd-x", "test_acc": 0.964,
             "memory_bits": {"weights": 181760, "delays": 4140, "other": 29452, "total": 215352}}
    deploy = {"core_config": {"n_in": 700, "sizes": [128], "n_out": 10}, "learning": False,
              "baud": 3_000_000, "placed": True, "achieved_fmax_mhz": 24.06,
              "target_fmax_mhz": 24.0, "identity_hash": "e7e4cbdda45ebf07",
              "utilisation": {"ICESTORM_LC": {"used": 3993, "available": 5280}},
              "fit": {"logic": {"estimated": 4003, "achieved": 3993}}}
    run = {"n_samples": 50, "accuracy": 0.96, "predictions_equal_golden": True,
           "realtime_factor_end_to_end": 12.6, "realtime_factor_worst_sample": 7.6,
           "latency_seconds": {"mean": 0.079, "max": 0.1315}}
    return train, deploy, run


def test_summary_has_every_figure(capsys):
    d = demo.summary(*reports(), {"train": 60.0, "deploy": 90.0, "run": 900.0}, "icebreaker")
    for key in ("samples", "accuracy", "predictions_equal_golden", "realtime_factor_end_to_end",
                "board"):
        assert d[key] is not None, key
    json.dumps(d)
    demo.print_summary(d)
    out = capsys.readouterr().out
    assert "96.0 %" in out and "12.6x" in out and "worst sample 7.6x" in out
    assert "215,352 bits" in out and "ICESTORM_LC 3,993/5,280" in out and "24.06 MHz" in out


def test_missed_targets_are_named():
    train, deploy, run = reports()
    run.update(accuracy=0.94, predictions_equal_golden=False)
    d = demo.summary(train, deploy, run, {}, "icebreaker")
    assert demo.missed_targets(d) == ["accuracy", "predictions_equal_golden"]
    run.update(accuracy=0.96, predictions_equal_golden=True, realtime_factor_end_to_end=9.9)
    assert demo.missed_targets(demo.summary(train, deploy, run, {}, "icebreaker")) == \
        ["realtime_factor_end_to_end"]
