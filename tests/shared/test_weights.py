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


def _proposed(tmp_path, name, cfg, tweak=None):
    from semcom.pipeline import load_models

    torch.manual_seed(0)
    _, tx, rx = load_models(cfg, None, "cpu")
    if tweak:  # "side.parameter"
        side, param = tweak.split(".", 1)
        with torch.no_grad():
            dict({"transmitter": tx, "receiver": rx}[side].named_parameters())[param].add_(0.5)
    return save_checkpoint(tmp_path / name, cfg, {"transmitter": tx, "receiver": rx})


def test_a_tasks_digest_leaves_out_what_only_other_tasks_use(tmp_path):
    """New segmentation parts (or seg config) keep reconstruction's digest and change segmentation's; a part both
    tasks use changes both."""
    from shared.weights import task_digest

    cfg = get_preset("test")
    base = _proposed(tmp_path, "base", cfg)
    seg = _proposed(tmp_path, "seg", cfg, "receiver.segmentation.classifier.weight")
    seg_cfg = _proposed(tmp_path, "segcfg", cfg.replace(**{"seg.dropout": 0.2}))
    shared = _proposed(tmp_path, "shared", cfg, "transmitter.source_kb.backbone.patch_embed.proj.weight")
    rec, sg = (lambda d: task_digest(d, "reconstruction")), (lambda d: task_digest(d, "segmentation"))
    assert rec(base) == rec(seg) == rec(seg_cfg) != rec(shared)
    assert len({sg(base), sg(seg), sg(seg_cfg), sg(shared)}) == 4


def test_the_store_is_rekeyed_to_task_digests(tmp_path):
    """scripts/rekey_sweep_store.py: a cell keyed by a checkpoint's file sha256 moves to the key the sweep now
    computes for it; two cells that land on one key with the same result become one."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from rekey_sweep_store import rekey

    from semcom.sweep.spec import Cell, identity_key
    from shared.weights import read_checkpoint_doc, task_digest

    cfg = get_preset("test")
    a, b = _proposed(tmp_path, "a", cfg), _proposed(tmp_path, "b", cfg, "receiver.segmentation.classifier.weight")
    store = tmp_path / "store"
    (store / "reconstruction").mkdir(parents=True)
    for d, psnr in ((a, 20.5), (b, 20.5)):
        cell = Cell("reconstruction", "proposed", "kodak", "awgn", (), "perfect", 10.0,
                    weights_sha256=read_checkpoint_doc(d)["sha256"])
        doc = {"cell": cell.identity(), "key": cell.key, "results": {"psnr": [psnr]}}
        (store / "reconstruction" / f"proposed_{cell.key[:20]}.json").write_text(json.dumps(doc))
    assert rekey(store, [a, b]) == (1, 1)
    [path] = (store / "reconstruction").glob("*.json")
    doc = json.loads(path.read_text())
    want = Cell("reconstruction", "proposed", "kodak", "awgn", (), "perfect", 10.0,
                weights_sha256=task_digest(b, "reconstruction"))
    assert doc["key"] == want.key == identity_key(doc["cell"]) and path.name == f"proposed_{want.key[:20]}.json"
