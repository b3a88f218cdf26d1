"""semcom bench taskkb: both halves scored by the task KB's own decision (match, refusals included)."""

import json

import pytest

from semcom.bench import taskkb

pytestmark = pytest.mark.slow  # loads Sentence-BERT and embeds ~80 requests


def test_halves_and_their_scores(tmp_path, capsys):
    out = tmp_path / "kb.json"
    assert taskkb.main(["--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    for half in ("tuning", "test"):
        h = doc[half]
        assert h["task_requests"]["n"] >= 12 and h["off_topic"]["n"] >= 12
        assert h["task_requests"]["accuracy"] >= 0.95 and h["off_topic"]["refused"] == h["off_topic"]["n"]
    requests = {r["request"] for r in doc["test"]["rows"]}
    assert not requests & {r["request"] for r in doc["tuning"]["rows"]}  # the halves do not share a request
