"""CUDA paths: the chain, training and the paper preset on a GPU (skipped where there is none).

Run on a GPU machine with `python3 -m pytest -m gpu tests` (scripts/gpu_check.sh does).
"""

import numpy as np
import pytest
import torch

from semcom.pipeline import load_models, run_chain
from semcom.train.system import System
from semcom.train.trainer import Trainer, parse
from shared.channel import Channel, ChannelSpec
from shared.config import get_preset
from shared.metrics import psnr
from shared.tasks import RECONSTRUCTION, SEGMENTATION, TaskBatch
from shared.weights import resolve_weights

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _scene(h: int = 224, w: int = 224) -> torch.Tensor:
    """A smooth synthetic picture (gradients, a disc, a bar): something the shipped model can code."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 + 0.3 * np.sin(6 * xx)], 0)
    disc = (xx - 0.6) ** 2 + (yy - 0.4) ** 2 < 0.04
    img[:, disc] = np.array([0.9, 0.15, 0.1])[:, None]
    img[:, int(0.75 * h):int(0.85 * h), :] = 0.1
    return torch.from_numpy(img.clip(0, 1)).float()


def test_channel_runs_on_the_gpu_with_a_gpu_generator():
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(4, 20000, dtype=torch.complex64, device="cuda")
    x = x / x.abs().pow(2).mean(1, keepdim=True).sqrt()
    for model in ("awgn", "rayleigh"):
        out = Channel(model, block_len=64)(x, torch.full((4,), 10.0, device="cuda"), gen)
        assert out.y.device.type == "cuda" and out.h.device.type == "cuda"
        if model == "awgn":
            assert torch.allclose(out.realised_snr_db.cpu(), torch.full((4,), 10.0), atol=0.2)


def test_shipped_chain_gives_the_same_quality_on_gpu_and_cpu():
    cfg, path = resolve_weights("cpu", "default")
    img = _scene()
    results = {}
    for device in ("cpu", "cuda"):
        _, tx, rx = load_models(cfg, path, device)
        spec = ChannelSpec("awgn", 10.0)
        rec, _, _ = run_chain(tx, rx, img.to(device), "reconstruction", spec, seed=0)
        seg, _, _ = run_chain(tx, rx, img.to(device), "segmentation", spec, seed=0)
        assert rec.device.type == device and seg.device.type == device
        results[device] = (float(psnr(img, rec.cpu().clamp(0, 1))), seg.cpu())
    (p_cpu, s_cpu), (p_gpu, s_gpu) = results["cpu"], results["cuda"]
    assert p_cpu > 15 and abs(p_cpu - p_gpu) < 0.5  # noise draws differ by device, quality must not
    assert (s_cpu == s_gpu).float().mean() > 0.9


def test_training_steps_on_the_gpu(image_folder, camvid_root, tmp_path):
    args = ["--preset", "test", "--data", str(image_folder), "--seg-data", str(camvid_root), "--out",
            str(tmp_path / "run"), "--batch", "2", "--crop", "64", "--warmup", "1", "--lr", "2e-3",
            "--steps", "30", "--fading-prob", "0", "--device", "cuda"]
    tr = Trainer(parse(args))
    assert next(tr.system.parameters()).device.type == "cuda"
    losses = [tr.train_step()["loss"] for _ in range(30)]
    assert all(np.isfinite(losses)) and sum(losses[-5:]) < 0.8 * sum(losses[:5])
    tr.save(0.0)
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_paper_preset_trains_and_decodes_on_the_gpu():
    torch.manual_seed(0)
    cfg = get_preset("paper")
    system = System(cfg).cuda()
    gen = torch.Generator(device="cuda").manual_seed(0)
    img = torch.rand(2, 3, 256, 256, device="cuda", generator=gen)
    labels = torch.randint(0, cfg.seg.num_classes, (2, 256, 256), device="cuda", generator=gen)
    snr = torch.tensor([5.0, 15.0], device="cuda")
    opt = torch.optim.AdamW([p for p in system.parameters() if p.requires_grad], lr=1e-4)
    out = system({RECONSTRUCTION: TaskBatch(img, snr), SEGMENTATION: TaskBatch(img, snr, labels)},
                 channel=Channel("rayleigh", 64), generator=gen)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    for part in (system.transmitter, system.receiver.reconstruction.dit, system.receiver.segmentation):
        grads = [p.grad.norm() for p in part.parameters() if p.grad is not None]
        assert grads and torch.isfinite(torch.stack(grads)).all() and sum(grads) > 0
    opt.step()
    system.eval()
    rec, t, _ = run_chain(system.transmitter, system.receiver, img[0, :, :224, :224], "reconstruction",
                          ChannelSpec("awgn", 10.0), seed=0, steps=4)
    assert rec.shape == (3, 224, 224) and torch.isfinite(rec).all()
    assert t.channel_uses == 224 * 224 * 3 // 16


@pytest.mark.parametrize("name", ["deepjscc", "adjscc", "witt", "deeplab-jscc", "fcn"])
def test_learned_baselines_take_cpu_images_on_the_gpu(name):
    from semcom.baselines.learned import BaselineSystem, task_of

    system = BaselineSystem(name, "1/16").cuda().eval()
    img = _scene(96, 128)
    spec = ChannelSpec("awgn", 10.0)
    if task_of(name) == "reconstruction":
        out = system.reconstruct(img, spec, seed=0)
        assert out.shape == img.shape
    elif name == "fcn":
        out = system.segment_image(img)
        assert out.shape == img.shape[-2:]
    else:
        out = system.segment(img, spec, seed=0)
        assert out.shape == img.shape[-2:]
    assert out.device.type == "cpu"  # evaluation code compares with CPU targets


def test_segmentation_baseline_validates_on_the_gpu(camvid_root, tmp_path):
    # the time-limit stop validates before saving: this crashed on the GPU (CPU frames, CUDA weights)
    for name in ("fcn", "deeplab-jscc"):
        tr = Trainer(parse(["--system", name, "--task", "segmentation", "--seg-data", str(camvid_root), "--out",
                            str(tmp_path / name), "--batch", "2", "--crop", "64", "--steps", "2", "--device", "cuda"]))
        tr.train_step()
        assert 0.0 <= tr.validate()["val_miou_10db"] <= 1.0
