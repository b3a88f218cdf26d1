"""`semcom bench models --scaling` on the test preset: one row per size, one time per step count."""

import json

import pytest

from semcom.bench import models as bench_models


@pytest.mark.slow  # each size in its own process: about 40 s on two cores
def test_scaling_rows(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench_models.main(["--preset", "test", "--weights", "none", "--repeats", "1", "--no-warmup", "--scaling",
                              "--sizes", "64x64,96x128", "--steps", "1,3", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    (sc,) = doc["scaling"]
    assert [r["size"] for r in sc["by_size"]] == ["64x64", "96x128"]
    assert all(r["reconstruction_s"] > 0 and r["segmentation_s"] > 0 and r["peak_rss_mib"] > 0 for r in sc["by_size"])
    assert set(sc["reconstruction_s_by_steps"]) == {"1", "3"}
    assert doc["results"][0]["parameters"]["total"] > 0
    assert doc["git_commit"] and doc["command"].startswith("semcom bench models") and "weights_by_preset" in doc
