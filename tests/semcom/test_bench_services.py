"""`semcom bench services --mixed` (the soak benchmark) on the test preset: the audit counts every transmission."""

import json

import pytest

from semcom.bench import services as bench_services
from tests.e2e.conftest import free_ports

pytestmark = pytest.mark.e2e  # starts the real services as processes


def test_mixed_load_is_audited(tmp_path, capsys):
    out = tmp_path / "soak.json"
    ports = ",".join(map(str, free_ports(3)))
    assert bench_services.main(["--preset", "test", "--weights", "none", "--clients", "3", "--count", "6",
                                "--duration", "600", "--mixed", "--size", "64x64", "--repeats", "1",
                                "--ports", ports, "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    r = doc["results"]["mixed"]
    assert r["completed"] == 6 and r["failed"] == 0
    assert r["delivery"] == {"accepted": 6, "lost": 0, "duplicated": 0, "unexpected": 0, "subscriber_errors": []}
    assert set(r["per_task"]) == {"reconstruction", "segmentation"}
    assert all(r["per_task"][t]["completed"] == 3 and "in_process" in r["per_task"][t] for t in r["per_task"])
    for name, mem in doc["services_memory_mib"].items():
        assert mem["start_rss_mib"] > 0 and mem["peak_rss_mib"] >= mem["end_rss_mib"] > 0, name
