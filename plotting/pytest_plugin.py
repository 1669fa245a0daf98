"""The original guide's tables at the end of `pytest bench/ --benchmark-only`, from the run's own stored JSON."""
from __future__ import annotations

import pytest

from plotting import sweep
from plotting.runs import RunError, parse_run
from runschema import GROUPS
from plotting.tables import report_text

RUN_JSON = pytest.StashKey[dict]()


# optional: pytest-benchmark may be disabled (-p no:benchmark); last: after the suite has added its own fields
@pytest.hookimpl(optionalhook=True, trylast=True)
def pytest_benchmark_update_json(config, output_json):
    """pytest-benchmark hands every JSON it writes (--benchmark-autosave/-save/-json) here, complete."""
    config.stash[RUN_JSON] = output_json


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own tables
def pytest_terminal_summary(terminalreporter, config):
    output = config.stash.get(RUN_JSON, None)
    if output is None:
        return  # no benchmark stored: e.g. `pytest tests/`, or --benchmark-disable
    terminalreporter.write_sep("=", "ckpt-bench comparison")
    try:
        swept = sweep.points(output)
        run = None if swept and not any(b.get("group") in GROUPS for b in output["benchmarks"]) else output
        if run is not None:
            terminalreporter.write(report_text(parse_run(run, source="this run")))
    except RunError as e:
        terminalreporter.write_line(f"no comparison tables: {e}")
        return
    if swept:
        terminalreporter.write_line(sweep.best_text(swept))
