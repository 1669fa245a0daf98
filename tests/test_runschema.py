"""The stored record and the values derived from it: one definition, read the same by the benchmarks and the reports."""
import subprocess
import sys

import pytest

from runschema import (
    GENERATION, SCHEMA_VERSION, Record, RecordError, add_efficiency, check_version, cores_busy, cpu_seconds,
    efficiency, improvement, request_bytes, throughput_gbps, train_overhead,
)
from tests.helpers import REPO


def test_a_record_survives_json_and_unknown_keys_are_left_out():
    record = Record(method="t5x", label="T5X", config={"format": "tensorstore"}, logical_bytes=10, cpu_user_s=0.5,
                    cpu_system_s=0.25, schema_version=SCHEMA_VERSION)
    assert Record.from_json(record.to_json()) == record
    assert Record.from_json({**record.to_json(), "added_by_a_newer_version": 1}) == record
    assert Record.from_json({}) == Record()  # a run made by hand stores what it has


@pytest.mark.parametrize("field, value, says", [
    ("logical_bytes", "10", "extra_info.logical_bytes is '10', not int"),
    ("n_files", True, "extra_info.n_files is True, not int"),
    ("throughput_gbps", float("nan"), "extra_info.throughput_gbps is nan, not float"),
    ("method", 3, "extra_info.method is 3, not str"),
    ("config", [], "extra_info.config is [], not dict"),
])
def test_a_field_of_the_wrong_type_is_one_line_naming_it(field, value, says):
    with pytest.raises(RecordError, match=f"^{says}$".replace("[", r"\[").replace("]", r"\]")):
        Record.from_json({field: value})


def test_every_known_version_has_a_generation_and_a_newer_one_is_refused():
    assert SCHEMA_VERSION in GENERATION and Record().schema_version == 1 and Record().generation == GENERATION[1]
    check_version(SCHEMA_VERSION, "run.json")
    with pytest.raises(RecordError, match="run.json: schema_version 99 is newer than this ckpt-bench reads"):
        check_version(99, "run.json")


def test_derived_values():
    assert throughput_gbps(2 * 10**9, 0.5) == 4.0 and throughput_gbps(None, 1.0) is None
    assert efficiency(1.0, 4.0) == 0.25 and efficiency(None, 1.0) is None
    assert improvement(200.0, 50.0) == 75.0 and improvement(None, 1.0) is None
    record = Record(cpu_user_s=0.3, cpu_system_s=0.1)
    assert cpu_seconds(record) == pytest.approx(0.4) and cores_busy(record, 0.2) == pytest.approx(2.0)
    assert cpu_seconds(Record()) is None and cores_busy(Record(), 1.0) is None
    assert train_overhead(2.0, 2.5) == 25.0 and train_overhead(2.0, 1.5) == -25.0
    assert train_overhead(None, 1.0) is None and train_overhead(1.0, None) is None


def test_efficiency_is_added_only_where_the_matching_ceiling_was_measured():
    benchmarks = [
        {"group": "ceiling", "stats": {"median": 1.0}, "extra_info": {"method": "ceiling", "op": "write"}},
        {"group": "save", "stats": {"median": 4.0}, "extra_info": {"method": "pytorch"}},
        {"group": "load-cold", "stats": {"median": 2.0}, "extra_info": {"method": "pytorch"}},
    ]
    add_efficiency(benchmarks)
    assert [b["extra_info"].get("efficiency") for b in benchmarks] == [None, 0.25, None]


def test_the_contract_and_the_reports_import_without_torch():
    code = "import sys, runschema, plotting.__main__; assert 'torch' not in sys.modules, 'torch imported'"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_mean_request_size_needs_requests():
    assert request_bytes(4, 2**22) == 2**20
    assert request_bytes(0, 0) is None and request_bytes(None, 10) is None and request_bytes(3, None) is None
