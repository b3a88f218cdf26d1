import pytest
import torch

from shared.config import get_preset
from shared.weights import load_modules, read_config, save_checkpoint


def test_round_trip_and_tamper_refused(tmp_path):
    cfg = get_preset("test")
    a, b = torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)
    save_checkpoint(tmp_path, cfg, {"lin": a}, meta={"steps": 5})
    cfg2, doc = read_config(tmp_path)
    assert cfg2 == cfg and doc["meta"]["steps"] == 5
    load_modules(tmp_path, {"lin": b})
    assert torch.equal(a.weight, b.weight)
    path = tmp_path / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the sha256"):
        load_modules(tmp_path, {"lin": b})


def test_one_format_for_every_system(tmp_path):
    """The proposed system and the learned baselines write and verify checkpoints the same way."""
    import json

    from semcom.baselines.learned import BaselineSystem
    from shared.weights import WEIGHTS_FILE, load_modules, write_checkpoint

    base = BaselineSystem("deepjscc", "1/16", width=8).save(tmp_path / "deepjscc", {"steps": 3})
    doc = json.loads((base / "config.json").read_text())
    assert doc["system"] == "deepjscc" and doc["meta"] == {"steps": 3} and len(doc["sha256"]) == 64
    lin = torch.nn.Linear(2, 2)
    write_checkpoint(tmp_path / "other", {"m": lin}, {"system": "x"})
    data = bytearray((tmp_path / "other" / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "other" / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the sha256"):
        load_modules(tmp_path / "other", {"m": lin})
    assert BaselineSystem.load(base).name == "deepjscc"


def test_checkpoints_are_readable_like_any_file_written(tmp_path):
    import os
    import stat

    from torch import nn

    from shared.weights import write_checkpoint

    mask = os.umask(0o022)
    try:
        d = write_checkpoint(tmp_path / "ck", {"m": nn.Linear(2, 2)}, {"name": "x"})
    finally:
        os.umask(mask)
    assert stat.S_IMODE((d / "model.safetensors").stat().st_mode) == 0o644


def test_the_cpu_preset_builds_the_shipped_model_exactly():
    """`--preset cpu` is today's design: the shipped weights' config, and a model they load into strictly."""
    from semcom.train.system import System
    from shared.config import get_preset
    from shared.weights import REPO_WEIGHTS, load_modules, read_config

    shipped, _ = read_config(REPO_WEIGHTS / "cpu")
    assert shipped == get_preset("cpu")
    system = System(get_preset("cpu"))
    load_modules(REPO_WEIGHTS / "cpu", {"transmitter": system.transmitter, "receiver": system.receiver})
