"""The task table (shared.tasks): a third task added by its entry and its own decoder module only
(tests/semcom/toy_task.py) runs through the task KB, the in-process chain, the receiver's step and `semcom eval`."""

import json

import pytest
import torch
from PIL import Image

from semcom.pipeline import load_models, run_chain
from shared import tasks
from shared.channel import ChannelSpec
from shared.config import get_preset
from tests.semcom import toy_task


@pytest.fixture
def preview():
    tasks.register(toy_task.TASK)
    try:
        yield toy_task.TASK
    finally:
        tasks.unregister(toy_task.TASK.name)


def test_the_table_checks_its_entries():
    with pytest.raises(ValueError, match="output must be"):
        tasks.Task("depth", ("estimate depth",), "point cloud", (2,), 1, "m:f")
    with pytest.raises(ValueError, match="lower-case"):
        tasks.Task("Depth", ("estimate depth",), tasks.IMAGE, (2,), 1, "m:f")
    with pytest.raises(ValueError, match="registered already"):
        tasks.register(tasks.get(tasks.RECONSTRUCTION))
    with pytest.raises(ValueError, match="unknown task 'depth'; known tasks: reconstruction, segmentation"):
        tasks.get("depth")


def test_a_third_task_runs_through_the_chain(preview, task_kb):
    from shared.task_kb import TaskKB

    kb = TaskKB(encoder=task_kb._encoder)  # built after registering: the table's phrasings are its memory
    assert kb.tasks == ("reconstruction", "segmentation", "preview")
    assert kb.match("could I get a rough preview of this photo").task == "preview"
    assert kb.match("please reconstruct this image").task == "reconstruction"

    cfg, tx, rx = load_models(get_preset("test"), None, "cpu")
    assert isinstance(rx.decoder("preview"), toy_task.PreviewDecoder)
    assert "preview" in tx.encoder.snr_gate  # the encoder's SNR gate has an entry per task
    img = torch.rand(3, 64, 96)
    # the transmitter's source KB takes the levels the entry names (f3 alone)
    levels = tx.source_kb.levels(img[None])
    assert torch.allclose(tx.source_kb(img[None], "preview"), levels[2])
    out, t, _ = run_chain(tx, rx, img, "preview", ChannelSpec("awgn", 10.0), seed=3)
    assert t.task == "preview" and out.shape == (3, 64, 96)
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    # what the receiver's step makes of it: an image result, no diffusion steps
    from receiver import step

    fields = step.render(out, t, rx)
    assert set(fields) == {"image_png", "diffusion_steps"} and fields["diffusion_steps"] == 0
    # and the decoder is the one the output came from: a different decoder weight changes it
    with torch.no_grad():
        rx.decoder("preview").to_pixels.bias.add_(1.0)
    assert not torch.allclose(run_chain(tx, rx, img, "preview", ChannelSpec("awgn", 10.0), seed=3)[0], out)


def test_a_third_task_runs_through_semcom_eval(preview, tmp_path, capsys):
    from semcom.eval.cli import main

    data = tmp_path / "photos"
    data.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(2):
        arr = (torch.rand(48, 64, 3, generator=g) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(data / f"p{i}.png")
    rc = main(["--task", "preview", "--systems", "proposed", "--preset", "test", "--weights", "none",
               "--data", str(data), "--snr", "1,10", "--out", str(tmp_path / "out")])
    assert rc == 0
    doc = json.loads(next((tmp_path / "out").glob("preview_*_proposed.json")).read_text())
    assert doc["task"] == "preview" and doc["images"] == 2 and doc["snr_db"] == [1.0, 10.0]
    assert len(doc["results"]["psnr"]) == 2 and all(5.0 < v < 40.0 for v in doc["results"]["psnr"])
    assert "psnr" in doc["noiseless"] and doc["split"] is None


def test_a_third_task_trains_alone_and_jointly(preview, tmp_path, image_folder, camvid_root):
    """`semcom train --task preview` trains its decoder (and the transmitter) from the table's entry; joint
    training takes every task of the table, each with its own statistics."""
    from semcom.train.trainer import Trainer, parse

    common = ["--preset", "test", "--data", str(image_folder), "--batch", "2", "--crop", "64", "--val-every",
              "1000", "--ckpt-every", "1000", "--warmup", "1", "--lr", "2e-3", "--fading-prob", "0"]
    tr = Trainer(parse([*common, "--task", "preview", "--steps", "3", "--out", str(tmp_path / "alone")]))
    assert tr.tasks == ("preview",)
    decoder = tr.system.receiver.decoder("preview").to_pixels.weight
    before = decoder.detach().clone()
    stats = tr.train_step()
    assert set(stats) == {"loss", "psnr"} and not torch.equal(decoder, before)
    assert set(tr.validate()) == {"step"}  # no --val-data: nothing to validate images on
    joint = Trainer(parse([*common, "--seg-data", str(camvid_root), "--steps", "1", "--out", str(tmp_path / "j")]))
    assert joint.tasks == ("reconstruction", "segmentation", "preview")
    stats = joint.train_step()
    assert {"reconstruction_psnr", "preview_psnr", "miou", "preview_loss"} <= set(stats)


def test_the_table_is_back_to_two_tasks_after():
    assert tasks.names() == ("reconstruction", "segmentation")
