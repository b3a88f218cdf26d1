"""semcom half: a checkpoint at half precision loads into the float32 model and decodes as the original does."""

import json

import pytest
import torch
from safetensors.torch import load_file

from semcom.pipeline import load_models, run_chain
from semcom.train.half import halve, main
from shared.channel import ChannelSpec
from shared.config import get_preset
from shared.weights import WEIGHTS_FILE, file_sha256, save_checkpoint


@pytest.fixture
def checkpoint(tmp_path):
    cfg, tx, rx = load_models(get_preset("test"), None, "cpu")
    return save_checkpoint(tmp_path / "full", cfg, {"transmitter": tx, "receiver": rx}, {"task": "test"}), tx, rx


def test_half_checkpoint_decodes_as_the_original(checkpoint, tmp_path):
    full, tx, rx = checkpoint
    summary = halve(full, tmp_path / "half", min_size=256)
    tensors = load_file(str(tmp_path / "half" / WEIGHTS_FILE))
    assert summary["float16_tensors"] > 0
    assert sum(v.dtype == torch.float16 for v in tensors.values()) == summary["float16_tensors"]
    # the linear analog code and small tensors stay float32
    assert all(v.dtype == torch.float32 for k, v in tensors.items() if ".analog." in k or v.numel() < 256)
    assert (tmp_path / "half" / WEIGHTS_FILE).stat().st_size < (full / WEIGHTS_FILE).stat().st_size
    doc = json.loads((tmp_path / "half" / "config.json").read_text())
    assert doc["sha256"] == file_sha256(tmp_path / "half" / WEIGHTS_FILE)
    assert doc["meta"]["half_precision"]["source_sha256"] == file_sha256(full / WEIGHTS_FILE)
    assert doc["meta"]["task"] == "test"

    _, htx, hrx = load_models(None, tmp_path / "half", "cpu")  # strict load, hash checked
    assert all(p.dtype == torch.float32 for p in hrx.parameters())
    img = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1))
    for task in ("reconstruction", "segmentation"):
        a = run_chain(tx, rx, img, task, ChannelSpec("awgn", 10.0), seed=2)[0]
        b = run_chain(htx, hrx, img, task, ChannelSpec("awgn", 10.0), seed=2)[0]
        if task == "reconstruction":
            assert (a - b).abs().max() < 0.02
        else:
            assert (a == b).float().mean() > 0.95


def test_half_refuses_what_it_cannot_do(checkpoint, tmp_path):
    full, _, _ = checkpoint
    with pytest.raises(SystemExit, match="not a checkpoint"):
        halve(tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(SystemExit, match="must differ"):
        halve(full, full)
    assert main([str(full), "--out", str(tmp_path / "h2")]) == 0


def test_half_and_merge_read_only_intact_checkpoints(checkpoint, tmp_path):
    """Every reader of a checkpoint checks its sha256 (shared.weights.read_tensors): a tampered file is refused."""
    from semcom.train.merge import merge

    full, _, _ = checkpoint
    data = bytearray((full / WEIGHTS_FILE).read_bytes())
    data[-5] ^= 0xFF
    (full / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the sha256"):
        halve(full, tmp_path / "half")
    with pytest.raises(ValueError, match="does not match the sha256"):
        merge(full, full, tmp_path / "merged")
