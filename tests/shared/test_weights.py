import pytest
import torch

from shared.config import get_preset
from shared.weights import load_checkpoint, read_config, save_checkpoint


def test_round_trip_and_tamper_refused(tmp_path):
    cfg = get_preset("test")
    a, b = torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)
    save_checkpoint(tmp_path, cfg, {"lin": a}, meta={"steps": 5})
    cfg2, doc = read_config(tmp_path)
    assert cfg2 == cfg and doc["meta"]["steps"] == 5
    load_checkpoint(tmp_path, {"lin": b})
    assert torch.equal(a.weight, b.weight)
    path = tmp_path / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the sha256"):
        load_checkpoint(tmp_path, {"lin": b})
