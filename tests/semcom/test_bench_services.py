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


def test_one_client_pairs_in_process_with_services(tmp_path, capsys):
    """The latency mode: in-process and through-services runs interleaved, the added time and every stage,
    with the provenance of `semcom eval`'s JSON."""
    out = tmp_path / "paired.json"
    ports = ",".join(map(str, free_ports(3)))
    assert bench_services.main(["--preset", "test", "--weights", "none", "--count", "3", "--size", "64x64",
                                "--threads", "1", "--ports", ports, "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["mode"] == "paired" and doc["threads_per_process"] == 1
    assert doc["git_commit"] and doc["torch"] and doc["command"].startswith("semcom bench services")
    assert doc["weights"] is None and doc["weights_sha256"] is None
    for task in ("reconstruction", "segmentation"):
        r = doc["results"][task]
        assert r["count"] == 3 and r["failed"] == 0 and r["delivery"]["lost"] == 0 == r["delivery"]["duplicated"]
        assert r["services_ms"]["p50"] > 0 and r["in_process_ms"]["p50"] >= r["in_process_chain_ms"]["min"] > 0
        assert set(r["added_ms"]) == {"p50_of_pairs", "p95_of_pairs", "difference_of_p50s"}
        services, local = r["stages_p50_ms"]["services"], r["stages_p50_ms"]["in_process"]
        assert {"tx_decode_image", "negotiate", "encode", "channel", "decode", "rx_encode_png", "client_send",
                "client_fetch", "unaccounted"} <= services.keys()
        assert {"decode_image", "negotiate", "encode", "channel", "decode", "render"} == local.keys()
        assert all(v >= 0 for k, v in services.items() if k != "unaccounted")
