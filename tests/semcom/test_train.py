import itertools
import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from semcom.train import trainer as train_mod
from semcom.train.trainer import Trainer, lr_at, parse
from shared.tasks import RECONSTRUCTION, SEGMENTATION, TaskBatch
from shared.weights import read_config


def _args(image_folder, camvid_root, out, *extra):
    return ["--preset", "test", "--data", str(image_folder), "--seg-data", str(camvid_root), "--out", str(out),
            "--batch", "2", "--crop", "64", "--val-every", "1000", "--ckpt-every", "1000", "--warmup", "1",
            "--lr", "2e-3", *extra]


def _fixed_batch(tr: Trainer) -> dict:
    """One batch of each task drawn before training, at fixed SNRs, to compare the loss on."""
    batch = tr.next_batch()
    for part in batch.values():
        part.snr_db = torch.linspace(*tr.tc.snr_range, tr.tc.batch)
    return batch


def _losses_on(tr: Trainer, batch: dict) -> tuple[float, float]:
    """(image MSE, segmentation loss) on `batch`: both positive, unlike the log-MSE training loss."""
    tr.model.eval()
    with torch.no_grad():
        out = tr.model(batch, channel=tr.awgn, csi=True, generator=torch.Generator().manual_seed(0))
    image = batch[RECONSTRUCTION].images
    return float(F.mse_loss(out[RECONSTRUCTION]["image"], image)), float(out[SEGMENTATION]["loss"])


@pytest.mark.slow  # 61 training steps of the joint system, then a resume
def test_joint_training_loss_falls_and_resumes(image_folder, camvid_root, tmp_path):
    out = tmp_path / "ckpt"
    # at a quarter of the other tests' rate: from the PCA start the image MSE then falls steadily
    tr = Trainer(parse(_args(image_folder, camvid_root, out, "--steps", "60", "--fading-prob", "0", "--lr", "5e-4")))
    fixed = _fixed_batch(tr)
    before = _losses_on(tr, fixed)
    images, frames = fixed[RECONSTRUCTION].images, (fixed[SEGMENTATION].images, fixed[SEGMENTATION].labels)
    tr.train_iters = {RECONSTRUCTION: itertools.repeat(images), SEGMENTATION: itertools.repeat(frames)}  # this batch
    for _ in range(60):
        tr.train_step()
    after = _losses_on(tr, fixed)  # at fixed SNRs and noise: not the noisy per-step losses
    print("image MSE and segmentation loss on the batch, before and after:", before, after)
    # the code starts as the training-free linear code, so the image MSE has little to gain in 60 steps; both
    # bounds hold with margin for other random starts (checked with and without the SNR gate's own seed)
    assert after[0] < 0.95 * before[0] and after[1] < 0.8 * before[1]
    tr.save(0.0)
    cfg, doc = read_config(out)
    assert cfg.name == "test" and doc["meta"]["steps"] == 60 and doc["meta"]["cbr"] == "1/16"
    assert doc["meta"]["classes"][0] == "sky" and doc["meta"]["task"] == "joint"
    # resume: same weights and optimizer state, step counter continues
    tr2 = Trainer(parse(_args(image_folder, camvid_root, out, "--steps", "61", "--resume")))
    assert tr2.step == 60
    for a, b in zip(tr.system.parameters(), tr2.system.parameters()):
        assert torch.equal(a.detach().cpu(), b.detach().cpu())
    assert tr2.opt.state_dict()["state"].keys() == tr.opt.state_dict()["state"].keys()
    assert tr2.run() == 0
    assert json.loads((out / "train_state.json").read_text())["step"] == 61


def test_segmentation_only_with_frozen_transmitter(image_folder, camvid_root, tmp_path):
    first = tmp_path / "a"
    Trainer(parse(_args(image_folder, camvid_root, first, "--steps", "1"))).save(0.0)
    tr = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "b", "--steps", "2", "--task", "segmentation",
                             "--init", str(first), "--freeze-transmitter")))
    before = [p.clone() for p in tr.system.transmitter.parameters()]
    tr.train_step()
    assert all(torch.equal(a, b) for a, b in zip(before, tr.system.transmitter.parameters()))


def test_freeze_keeps_the_named_receiver_parts_fixed(image_folder, camvid_root, tmp_path, capsys):
    """A reconstruction-only run that must not move what segmentation shares with it."""
    first = tmp_path / "a"
    Trainer(parse(_args(image_folder, camvid_root, first, "--steps", "1"))).save(0.0)
    frozen = ("receiver.analog", "receiver.source_kb.stem", "receiver.source_kb.block1")
    tr = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "b", "--steps", "2", "--task", "reconstruction",
                             "--init", str(first), "--freeze-transmitter",
                             *(a for f in frozen for a in ("--freeze", f)))))
    named = dict(tr.system.named_parameters())
    kept = {n: p.clone() for n, p in named.items() if n.startswith(("transmitter.",) + frozen)}
    moving = {n: p.clone() for n, p in named.items() if n.startswith("receiver.reconstruction.")}
    assert any(n.startswith("receiver.analog.") for n in kept) and moving
    tr.train_step()
    assert all(torch.equal(p, named[n]) for n, p in kept.items())
    assert any(not torch.equal(p, named[n]) for n, p in moving.items())
    with pytest.raises(SystemExit, match="--freeze receiver.nothing: no parameter"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "c", "--steps", "1", "--freeze", "receiver.nothing")))


def test_reinit_starts_a_decoder_afresh_on_a_split_without_a_drive(image_folder, camvid_root, tmp_path):
    """Retraining the segmentation decoder on frames its checkpoint weights must not have seen: --reinit gives it a
    new model's weights (the same for the same --seed), everything else stays the checkpoint's."""
    first = tmp_path / "a"
    old = Trainer(parse(_args(image_folder, camvid_root, first, "--steps", "1")))
    with torch.no_grad():
        for p in old.system.parameters():
            p.add_(0.5)  # unlike any fresh start
    old.save(0.0)
    runs = [Trainer(parse(_args(image_folder, camvid_root, tmp_path / b, "--steps", "2", "--task", "segmentation",
                                "--init", str(first), "--reinit", "receiver.segmentation", "--seg-split", "train",
                                "--seg-val-split", "val"))) for b in ("b", "c")]
    before = dict(old.system.named_parameters())
    for tr in runs:
        for n, p in tr.system.named_parameters():
            assert torch.equal(p, before[n]) != n.startswith("receiver.segmentation."), n
    seg = [{n: p for n, p in tr.system.named_parameters() if n.startswith("receiver.segmentation.")} for tr in runs]
    assert all(torch.equal(seg[0][n], seg[1][n]) for n in seg[0])
    with pytest.raises(SystemExit, match="--reinit receiver.nothing: no parameter"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "d", "--steps", "1", "--init", str(first),
                            "--reinit", "receiver.nothing")))
    with pytest.raises(SystemExit, match="--reinit starts parts of an --init checkpoint"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "e", "--steps", "1", "--reinit",
                            "receiver.segmentation")))


def test_training_on_tdl_with_estimated_csi(image_folder, camvid_root, tmp_path):
    """The training mix can draw OFDM over TDL with the receiver estimating h from pilots."""
    tc = parse(_args(image_folder, camvid_root, tmp_path, "--steps", "1", "--fading", "tdl-c", "--speed-kmh", "30",
                     "--fading-csi", "estimated", "--fading-prob", "1", "--task", "segmentation"))
    assert tc.block_len == 0 and tc.fading_csi == ("estimated",)
    tr = Trainer(tc)
    [fading] = tr.fading
    assert fading.csi == "estimated" and fading.spec.param_values()["speed_kmh"] == 30.0
    stats = tr.train_step()
    assert torch.isfinite(torch.tensor(stats["loss"]))


def test_training_mix_of_fading_channels(image_folder, camvid_root, tmp_path):
    """--fading and --fading-csi repeat: each fading step draws one model with one CSI, each model with the
    parameters it takes; a block length only OFDM models would get is refused (a parameter no chosen model takes:
    test_training_on_rician_fading)."""
    tc = parse(_args(image_folder, camvid_root, tmp_path, "--steps", "1", "--fading", "rayleigh", "--fading", "tdl-c",
                     "--speed-kmh", "30", "--fading-csi", "perfect", "--fading-csi", "estimated", "--fading-prob", "1",
                     "--task", "segmentation"))
    assert tc.fading == ("rayleigh", "tdl-c") and tc.block_len == 64
    tr = Trainer(tc)
    got = [(c.spec.model, c.csi, c.block_len, c.spec.param_values()) for c in tr.fading]
    assert [g[:3] for g in got] == [("rayleigh", "perfect", 64), ("rayleigh", "estimated", 64),
                                    ("tdl-c", "perfect", 0), ("tdl-c", "estimated", 0)]
    assert got[0][3] == {} and got[3][3]["speed_kmh"] == 30.0
    drawn = []

    class Sent(Exception):
        pass

    class Recorder(torch.nn.Module):  # the step's channel; the step goes no further
        def forward(self, batch, channel, **kw):
            drawn.append(channel)
            raise Sent

    tr.model = Recorder()
    for _ in range(40):
        with pytest.raises(Sent):
            tr.train_step()
    assert {id(c) for c in drawn} == {id(c) for c in tr.fading}
    with pytest.raises(SystemExit):
        parse(_args(image_folder, camvid_root, tmp_path, "--fading", "tdl-c", "--fading", "tdl-a", "--block-len", "16"))


def test_training_on_rician_fading(image_folder, camvid_root, tmp_path, capsys):
    tc = parse(_args(image_folder, camvid_root, tmp_path, "--steps", "2", "--fading", "rician", "--k-factor", "3",
                     "--fading-prob", "1", "--block-len", "16"))
    assert tc.fading == ("rician",) and tc.channel_params == (("k_factor", 3.0),) and tc.fading_prob == 1.0
    tr = Trainer(tc)
    [fading] = tr.fading
    assert fading.spec.param_values() == {"k_factor": 3.0} and fading.block_len == 16
    assert torch.isfinite(torch.tensor(tr.train_step()["loss"]))
    assert parse(_args(image_folder, camvid_root, tmp_path, "--rayleigh-prob", "0.5")).fading_prob == 0.5  # old name
    with pytest.raises(SystemExit):
        parse(_args(image_folder, camvid_root, tmp_path, "--fading", "rician", "--k-factor", "-3"))
    assert "k_factor = -3.0 is outside" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(_args(image_folder, camvid_root, tmp_path, "--k-factor", "3"))  # rayleigh takes no K
    assert "--k-factor: none of the fading channels (rayleigh) takes it" in capsys.readouterr().err


def test_cosine_schedule_ends_with_the_time_limit_or_the_steps(image_folder, camvid_root, tmp_path):
    tc = parse(_args(image_folder, camvid_root, tmp_path, "--steps", "101", "--warmup", "1"))
    assert lr_at(1, tc) == pytest.approx(2e-3)
    assert lr_at(1, tc, time_progress=1.0) == pytest.approx(2e-4)  # clock ran out first
    assert lr_at(101, tc, time_progress=0.2) == pytest.approx(2e-4)  # steps ran out first
    assert lr_at(51, tc, time_progress=0.5) == pytest.approx(lr_at(51, tc))


def test_time_limit_stops_saves_and_ends_the_schedule(image_folder, camvid_root, tmp_path, monkeypatch):
    clock = iter(float(t) for t in range(10_000))  # a fake clock: one second per reading, no real timing
    monkeypatch.setattr(train_mod, "clock", lambda: next(clock))  # the trainer's clock only, not other threads'
    out = tmp_path / "timed"
    tr = Trainer(parse(_args(image_folder, camvid_root, out, "--steps", "1000", "--time-limit", "8")))
    assert tr.run() == 0
    state = json.loads((out / "train_state.json").read_text())
    assert 0 < state["step"] < 1000 and state["step"] == tr.step
    assert read_config(out)[1]["meta"]["steps"] == tr.step
    assert tr.time_progress >= 1.0
    assert tr.opt.param_groups[0]["lr"] < 0.5 * 2e-3  # the cosine followed the clock, not the 1000 steps
    with pytest.raises(SystemExit):
        parse(_args(image_folder, camvid_root, out, "--time-limit", "0"))



def test_time_budget_counts_the_runs_a_resume_continues(image_folder, camvid_root, tmp_path, monkeypatch):
    clock = iter(float(t) for t in range(10_000))  # one second per reading
    monkeypatch.setattr(train_mod, "clock", lambda: next(clock))
    out = tmp_path / "budget"
    first = Trainer(parse(_args(image_folder, camvid_root, out, "--steps", "1000", "--time-budget", "6")))
    assert first.run() == 0
    spent = json.loads((out / "train_state.json").read_text())["train_seconds"]
    assert spent >= 6 and 0 < first.step < 1000
    # the same budget again: nothing left, so the resumed run trains no step
    again = Trainer(parse(_args(image_folder, camvid_root, out, "--steps", "1000", "--time-budget", "6", "--resume")))
    assert again.seconds_before == spent and again.run() == 0 and again.step == first.step
    # a larger budget continues the one schedule where it stood, not from the top of the cosine
    more = Trainer(parse(_args(image_folder, camvid_root, out, "--steps", "1000", "--time-budget", str(spent + 6),
                               "--resume")))
    assert more.run() == 0 and more.step > first.step
    state = json.loads((out / "train_state.json").read_text())
    assert state["step"] == more.step and state["train_seconds"] >= spent + 6
    for bad in (["--time-budget", "0"], ["--time-budget", "5", "--time-limit", "5"]):
        with pytest.raises(SystemExit):
            parse(_args(image_folder, camvid_root, out, *bad))


def test_sigterm_saves_a_checkpoint_and_exits_143(image_folder, camvid_root, tmp_path):
    import signal

    out = tmp_path / "stopped"
    tr = Trainer(parse(_args(image_folder, camvid_root, out, "--steps", "1000")))
    step = tr.train_step

    def step_then_signal():
        stats = step()
        if tr.step == 3:
            signal.raise_signal(signal.SIGTERM)  # as `kill` would, mid-run
        return stats

    tr.train_step = step_then_signal
    before = signal.getsignal(signal.SIGTERM)
    assert tr.run() == 128 + signal.SIGTERM  # not 0: a script does not take the run for finished
    assert json.loads((out / "train_state.json").read_text())["step"] == 3 == tr.step
    assert read_config(out)[1]["meta"]["steps"] == 3
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the run's only


@pytest.mark.slow
def test_ddp_two_processes_gloo(image_folder, camvid_root, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
           "-m", "semcom.train", *_args(image_folder, camvid_root, out, "--steps", "3", "--device", "cpu",
                                        "--time-limit", "3600")]  # ranks share rank 0's clock (broadcast)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "train_state.json").read_text())["step"] == 3


@pytest.mark.slow  # 30 training steps per baseline
@pytest.mark.parametrize("system", ["deepjscc", "adjscc", "witt"])
def test_baseline_training_loss_falls_and_saves(image_folder, camvid_root, tmp_path, system):
    from semcom.baselines.learned import BaselineSystem
    from shared.channel import ChannelSpec

    out = tmp_path / system
    tr = Trainer(parse(["--system", system, "--task", "reconstruction", "--data", str(image_folder), "--out",
                        str(out), "--batch", "4", "--crop", "64", "--steps", "25", "--warmup", "1", "--lr", "3e-3",
                        "--val-every", "1000", "--ckpt-every", "1000", "--fading-prob", "0"]))
    fixed = {RECONSTRUCTION: TaskBatch(next(tr.train_iters[RECONSTRUCTION]), torch.full((4,), 10.0))}

    def held_out_loss():  # the same batch and channel draw before and after: only the model changes
        with torch.no_grad():
            return float(tr.system(fixed, generator=torch.Generator().manual_seed(0))["loss"])

    before = held_out_loss()
    for _ in range(25):
        tr.train_step()
    assert held_out_loss() < 0.9 * before
    tr.save(0.0)
    loaded = BaselineSystem.load(out)
    assert loaded.name == system and loaded.cbr == "1/16"
    img = torch.rand(3, 40, 52)
    assert loaded.reconstruct(img, ChannelSpec("awgn", 10.0), seed=0).shape == img.shape


@pytest.mark.parametrize("system", ["deeplab-jscc", "fcn"])
def test_segmentation_baseline_training_loss_falls_and_saves(camvid_root, tmp_path, system):
    from semcom.baselines.learned import BaselineSystem

    out = tmp_path / system
    tr = Trainer(parse(["--system", system, "--task", "segmentation", "--preset", "test", "--seg-data",
                        str(camvid_root), "--out", str(out), "--batch", "2", "--crop", "64", "--steps", "20",
                        "--warmup", "1", "--lr", "3e-3", "--val-every", "1000", "--ckpt-every", "1000",
                        "--fading-prob", "0"]))
    img, lab = next(tr.train_iters[SEGMENTATION])
    fixed = {SEGMENTATION: TaskBatch(img, torch.full((2,), 10.0), lab)}

    def held_out_loss():
        tr.system.eval()
        with torch.no_grad():
            return float(tr.system(fixed, generator=torch.Generator().manual_seed(0))["loss"])

    before = held_out_loss()
    for _ in range(20):
        stats = tr.train_step()
    assert "miou" in stats and held_out_loss() < 0.9 * before
    assert "val_miou_10db" in tr.validate()
    tr.save(0.0)
    loaded = BaselineSystem.load(out)
    assert loaded.name == system and loaded.task == "segmentation" and loaded.num_classes == 11


def test_baseline_task_mismatch_is_a_clear_error(image_folder, tmp_path):
    with pytest.raises(SystemExit, match="is a segmentation system"):
        Trainer(parse(["--system", "deeplab-jscc", "--task", "reconstruction", "--data", str(image_folder),
                       "--out", str(tmp_path / "x")]))


def test_init_partial_takes_what_matches_in_name_and_shape(image_folder, camvid_root, tmp_path):
    from semcom.train.system import System
    from shared.config import get_preset
    from shared.weights import save_checkpoint

    old_cfg = get_preset("test").replace(**{"seg.hidden": 24})  # an older design: a wider segmentation decoder
    torch.manual_seed(1)
    old = System(old_cfg)
    with torch.no_grad():
        old.transmitter.encoder.gate.fill_(0.3)
    save_checkpoint(tmp_path / "old", old_cfg, {"transmitter": old.transmitter, "receiver": old.receiver})
    tr = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "new", "--steps", "1",
                             "--init-partial", str(tmp_path / "old"))))
    new_tx, old_tx = tr.system.transmitter, old.transmitter
    assert torch.equal(new_tx.source_kb.project[0].weight, old_tx.source_kb.project[0].weight)  # taken
    assert torch.equal(new_tx.encoder.down[-1].weight, old_tx.encoder.down[-1].weight)
    assert tr.system.receiver.segmentation.res[0].body[2].weight.shape == (16, 16, 3, 3)  # this design's, fresh
    assert float(new_tx.encoder.gate.detach()) == pytest.approx(0.3)
    dits = zip(tr.system.receiver.reconstruction.dit.parameters(), old.receiver.reconstruction.dit.parameters())
    assert not all(torch.equal(a, b) for a, b in dits)  # the DiT starts afresh
    assert torch.equal(new_tx.encoder.analog.proj.weight, old_tx.encoder.analog.proj.weight)


def test_snr_gate_is_added_to_a_checkpoint_without_one(image_folder, camvid_root, tmp_path):
    """--snr-gate: the checkpoint's model exactly (the gate starts as the plain one), then only it learns."""
    from semcom.train.system import System
    from shared.config import get_preset
    from shared.weights import load_modules, save_checkpoint
    from transmitter.model import Transmitter

    # made before the gate existed, with reconstruction on the patch code (the gate serves its learned path)
    old_cfg = get_preset("test").replace(**{"encoder.snr_gate": False, "encoder.dct_tasks": ()})
    torch.manual_seed(2)
    old = System(old_cfg)
    with torch.no_grad():
        old.transmitter.encoder.gate.fill_(0.3)
    save_checkpoint(tmp_path / "old", old_cfg, {"transmitter": old.transmitter, "receiver": old.receiver})
    plain = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "x", "--steps", "1", "--init",
                                str(tmp_path / "old"))))
    assert not plain.cfg.encoder.snr_gate and plain.system.transmitter.encoder.snr_gate is None  # as it was
    with pytest.raises(RuntimeError, match="Missing key"):  # only the named new part may be missing
        load_modules(tmp_path / "old", {"transmitter": Transmitter(get_preset("test"))},
                        new=("transmitter.encoder.gate",))
    gated = ("transmitter.encoder.snr_gate.reconstruction",)
    frozen = [n for n, _ in old.transmitter.named_parameters(prefix="transmitter")]
    tr = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "new", "--steps", "2", "--task", "reconstruction",
                             "--init", str(tmp_path / "old"), "--snr-gate",
                             *(a for f in frozen for a in ("--freeze", f)))))
    assert tr.cfg.encoder.snr_gate
    img = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for snr in (0.0, 20.0):
            torch.testing.assert_close(tr.system.transmitter.encode(img, "reconstruction", snr)[0],
                                       old.transmitter.encode(img, "reconstruction", snr)[0])
    named = dict(tr.system.transmitter.named_parameters(prefix="transmitter"))
    before = {n: p.clone() for n, p in named.items()}
    tr.train_step()
    moved = {n for n, p in named.items() if not torch.equal(p, before[n])}
    assert moved and all(n.startswith(gated) for n in moved)
    tr.save(0.0)
    assert read_config(tmp_path / "new")[0].encoder.snr_gate


def test_segmentation_rescale_range(image_folder, camvid_root, tmp_path, monkeypatch):
    """--seg-scale LO:HI sets the random rescale of the training crops (default 0.6:1.5); a range that is not
    one, or not a pair of numbers, is refused before anything loads."""
    made = []
    real = train_mod.segmentation_dataset
    monkeypatch.setattr(train_mod, "segmentation_dataset", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    tr = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "wide", "--steps", "1", "--task", "segmentation",
                             "--seg-scale", "0.5:2")))
    assert tr.tc.seg_scale == (0.5, 2.0) and made[0].scale == (0.5, 2.0) and made[0].train
    assert parse(_args(image_folder, camvid_root, tmp_path / "x")).seg_scale == (0.6, 1.5)
    for bad in ("2:1", "0:1", "a:b", "1", "1:2:3", "1:9"):
        with pytest.raises(SystemExit):
            parse(_args(image_folder, camvid_root, tmp_path / "x", "--seg-scale", bad))
    assert parse(_args(image_folder, camvid_root, tmp_path / "x", "--snr-range", "0:10")).snr_range == (0.0, 10.0)
    with pytest.raises(SystemExit):  # --snr-range reads its pair the same way: a usage line, not a traceback
        parse(_args(image_folder, camvid_root, tmp_path / "x", "--snr-range", "abc"))


def test_segmentation_paste_probability(image_folder, camvid_root, tmp_path, monkeypatch):
    """--seg-paste P reaches the training set (off by default); what is not a probability is refused."""
    made = []
    real = train_mod.segmentation_dataset
    monkeypatch.setattr(train_mod, "segmentation_dataset", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    Trainer(parse(_args(image_folder, camvid_root, tmp_path / "p", "--steps", "1", "--task", "segmentation",
                        "--seg-paste", "0.5")))
    assert made[0].paste == 0.5
    assert parse(_args(image_folder, camvid_root, tmp_path / "x")).seg_paste == 0.0
    for bad in ("1.5", "-0.1", "nan", "half"):
        with pytest.raises(SystemExit):
            parse(_args(image_folder, camvid_root, tmp_path / "x", "--seg-paste", bad))


def test_segmentation_class_weights_and_added_image_blocks(image_folder, camvid_root, tmp_path, capsys):
    """--seg-class-weights enet (the default) weights the loss from the training labels; --seg-image-blocks,
    --seg-context and --seg-image-encoder give an older checkpoint's segmentation decoder those parts at their
    identity start."""
    from semcom.data import CamVid
    from semcom.train.system import System
    from shared.config import get_preset
    from shared.weights import save_checkpoint

    old_cfg = get_preset("test").replace(**{"seg.image_blocks": 0})  # made before the blocks existed
    torch.manual_seed(4)
    old = System(old_cfg)
    save_checkpoint(tmp_path / "old", old_cfg, {"transmitter": old.transmitter, "receiver": old.receiver})
    tr = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "new", "--steps", "2", "--task", "segmentation",
                             "--init", str(tmp_path / "old"), "--seg-image-blocks", "2")))
    assert tr.cfg.seg.image_blocks == 2 and len(tr.system.receiver.segmentation.image_blocks) == 2
    counts = CamVid(camvid_root, "train").class_pixel_counts()
    batch = tr.next_batch()
    assert batch[SEGMENTATION].class_weight.argmax() == counts.argmin()  # the rarest class weighs most
    assert "segmentation class weights (ENet" in capsys.readouterr().err
    old.eval(), tr.system.eval()
    batch[SEGMENTATION].snr_db = torch.full_like(batch[SEGMENTATION].snr_db, 10.0)
    with torch.no_grad():
        a = old(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
        b = tr.system(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
    torch.testing.assert_close(a, b)
    tr.train_step()
    tr.save(0.0)
    assert read_config(tmp_path / "new")[0].seg.image_blocks == 2
    with pytest.raises(SystemExit, match="has 2 image blocks already"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "again", "--steps", "1", "--task", "segmentation",
                            "--init", str(tmp_path / "new"), "--seg-image-blocks", "1")))
    # --seg-context: the same at its identity start too, and only once
    ctx = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "ctx", "--steps", "2", "--task", "segmentation",
                              "--init", str(tmp_path / "new"), "--seg-context")))
    assert ctx.cfg.seg.context_bins == (1, 2, 3, 6)
    trained, ctx.system = tr.system.eval(), ctx.system.eval()
    with torch.no_grad():
        a = trained(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
        b = ctx.system(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
    torch.testing.assert_close(a, b)
    ctx.train_step()
    assert ctx.system.receiver.segmentation.context.out.weight.abs().sum() > 0
    ctx.save(0.0)
    assert read_config(tmp_path / "ctx")[0].seg.context_bins == (1, 2, 3, 6)
    with pytest.raises(SystemExit, match="has pyramid pooling already"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "again", "--steps", "1", "--task", "segmentation",
                            "--init", str(tmp_path / "ctx"), "--seg-context")))
    # --seg-image-encoder: the same at its zero start; a step moves its way into the decoder; only once
    enc = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "enc", "--steps", "2", "--task", "segmentation",
                              "--init", str(tmp_path / "ctx"), "--seg-image-encoder", "4")))
    pyramid = enc.system.receiver.segmentation.image_encoder
    assert enc.cfg.seg.image_encoder == 4 and [s[0].out_channels for s in pyramid.stages] == [4, 8, 16]
    ctx.system.eval(), enc.system.eval()
    with torch.no_grad():
        a = ctx.system(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
        b = enc.system(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
    torch.testing.assert_close(a, b)
    enc.train_step()
    assert all(conv.weight.abs().sum() > 0 for conv in pyramid.out)
    enc.save(0.0)
    assert read_config(tmp_path / "enc")[0].seg.image_encoder == 4
    with pytest.raises(SystemExit, match="has an image encoder of width 4 already"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "again", "--steps", "1", "--task", "segmentation",
                            "--init", str(tmp_path / "enc"), "--seg-image-encoder", "8")))
    # --seg-backbone: ImageNet's weights (after --reinit), the same logits at its zero start, its own learning rate
    bb = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "bb", "--steps", "2", "--task", "segmentation",
                             "--init", str(tmp_path / "ctx"), "--seg-backbone", "efficientnet_lite0",
                             "--reinit", "receiver.segmentation.res", "--seg-backbone-lr-scale", "0.25")))
    assert bb.cfg.seg.backbone == "efficientnet_lite0" and "240 tensors from ImageNet" in capsys.readouterr().err
    from shared.backbone import imagenet_state

    stem = bb.system.receiver.segmentation.backbone.conv_stem.weight
    assert torch.equal(stem, imagenet_state("efficientnet_lite0")["conv_stem.weight"])
    assert [g["lr_scale"] for g in bb.opt.param_groups if any(p is stem for p in g["params"])] == [0.25]
    bb.system.eval()
    plain = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "plain", "--steps", "2", "--task",
                                "segmentation", "--init", str(tmp_path / "ctx"),
                                "--reinit", "receiver.segmentation.res"))).system.eval()
    with torch.no_grad():
        a = plain(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
        b = bb.system(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
    torch.testing.assert_close(a, b)
    bb.train_step()
    with torch.no_grad():
        stem.add_(0.01)  # as further steps would move it
    bb.save(0.0)
    assert read_config(tmp_path / "bb")[0].seg.backbone == "efficientnet_lite0"
    # the flag again on a model that has it: its trained backbone stays, ImageNet's is not loaded over it
    again = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "again", "--steps", "1", "--task",
                                "segmentation", "--init", str(tmp_path / "bb"),
                                "--seg-backbone", "efficientnet_lite0")))
    assert "from ImageNet" not in capsys.readouterr().err
    kept = again.system.receiver.segmentation.backbone.state_dict()
    assert all(torch.equal(v, kept[k]) for k, v in bb.system.receiver.segmentation.backbone.state_dict().items())
    # wherever it starts afresh it starts from ImageNet: under --reinit, and in a new model that has one
    for name, extra in (("re", ("--init", str(tmp_path / "bb"), "--reinit", "receiver.segmentation")),
                        ("new", ("--seg-backbone", "efficientnet_lite0"))):
        tr = Trainer(parse(_args(image_folder, camvid_root, tmp_path / name, "--steps", "1", "--task",
                                 "segmentation", *extra)))
        assert capsys.readouterr().err.count("240 tensors from ImageNet") == 1
        assert torch.equal(tr.system.receiver.segmentation.backbone.conv_stem.weight,
                           imagenet_state("efficientnet_lite0")["conv_stem.weight"])
    # another backbone in place of the checkpoint's: only where --reinit starts it afresh anyway
    with pytest.raises(SystemExit, match="has the backbone efficientnet_lite0 already"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "x", "--steps", "1", "--task", "segmentation",
                            "--init", str(tmp_path / "bb"), "--seg-backbone", "efficientnet_lite1")))
    swap = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "swap", "--steps", "1", "--task",
                               "segmentation", "--init", str(tmp_path / "bb"), "--seg-backbone", "efficientnet_lite1",
                               "--reinit", "receiver.segmentation")))
    assert swap.cfg.seg.backbone == "efficientnet_lite1" and "from ImageNet" in capsys.readouterr().err
    assert torch.equal(swap.system.receiver.segmentation.backbone.conv_stem.weight,
                       imagenet_state("efficientnet_lite1")["conv_stem.weight"])
    # --seg-backbone-gate: added to a checkpoint with a backbone it starts at 1 (the same logits); not without one
    with pytest.raises(SystemExit, match="has none"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "x", "--steps", "1", "--task", "segmentation",
                            "--init", str(tmp_path / "ctx"), "--seg-backbone-gate")))
    gated = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "gated", "--steps", "1", "--task",
                                "segmentation", "--init", str(tmp_path / "bb"), "--seg-backbone-gate")))
    assert gated.cfg.seg.backbone_gate and gated.system.receiver.segmentation.backbone_gate is not None
    gated.system.eval()
    again.system.eval()
    with torch.no_grad():
        a = again.system(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
        b = gated.system(batch, generator=torch.Generator().manual_seed(0))[SEGMENTATION]["logits"]
    torch.testing.assert_close(a, b)
    # --seg-backbone-scale: a setting of the model with a backbone (its weights as they were); not without one
    with pytest.raises(SystemExit, match="has none"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "x", "--steps", "1", "--task", "segmentation",
                            "--init", str(tmp_path / "ctx"), "--seg-backbone-scale", "1.5")))
    scaled = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "scaled", "--steps", "1", "--task",
                                 "segmentation", "--init", str(tmp_path / "bb"), "--seg-backbone-scale", "1.5")))
    assert scaled.cfg.seg.backbone_scale == 1.5 and scaled.system.receiver.segmentation.cfg.backbone_scale == 1.5
    assert all(torch.equal(v, kept[k]) for k, v in scaled.system.receiver.segmentation.backbone.state_dict().items())
    for bad in (("--seg-backbone", "resnet9"), ("--seg-backbone-lr-scale", "2"), ("--seg-backbone-scale", "3")):
        with pytest.raises(SystemExit):
            parse(_args(image_folder, camvid_root, tmp_path / "x", *bad))
    # --no-seg-context: the same decoder without its pooling; every other tensor as the checkpoint has it
    flat = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "flat", "--steps", "1", "--task",
                               "segmentation", "--init", str(tmp_path / "ctx"), "--no-seg-context")))
    assert flat.cfg.seg.context_bins == () and flat.system.receiver.segmentation.context is None
    wet = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "wet", "--steps", "1", "--task",
                              "segmentation", "--init", str(tmp_path / "ctx"), "--seg-dropout", "0.3")))
    assert wet.cfg.seg.dropout == 0.3 and wet.system.receiver.segmentation.dropout.p == 0.3
    with pytest.raises(SystemExit):
        parse(_args(image_folder, camvid_root, tmp_path / "x", "--seg-dropout", "1"))
    theirs = ctx.system.receiver.state_dict()
    mine = flat.system.receiver.state_dict()
    assert set(theirs) - set(mine) == {k for k in theirs if k.startswith("segmentation.context.")}
    assert all(torch.equal(v, theirs[k]) for k, v in mine.items())
    with pytest.raises(SystemExit, match="no pyramid pooling to leave out"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "again", "--steps", "1", "--task", "segmentation",
                            "--init", str(tmp_path / "new"), "--no-seg-context")))
    plain = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "plain", "--steps", "1", "--task",
                                "segmentation", "--seg-class-weights", "none")))
    assert plain.next_batch()[SEGMENTATION].class_weight is None
    soft = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "soft", "--steps", "1", "--task",
                               "segmentation", "--seg-class-weights", "enet-soft")))
    strong, gentle = batch[SEGMENTATION].class_weight, soft.next_batch()[SEGMENTATION].class_weight
    assert gentle.argmax() == strong.argmax() and gentle.max() / gentle.min() < strong.max() / strong.min()
    custom = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "c", "--steps", "1", "--task",
                                 "segmentation", "--seg-class-weights", "enet:1.2")))
    torch.testing.assert_close(custom.next_batch()[SEGMENTATION].class_weight, gentle)
    for bad in ("enet:1", "enet:x", "median"):
        with pytest.raises(SystemExit):
            parse(_args(image_folder, camvid_root, tmp_path / "x", "--seg-class-weights", bad))


def test_grow_refiner_appends_identity_blocks(image_folder, camvid_root, tmp_path):
    """--grow-refiner: the checkpoint's reconstruction exactly at the start, then the new blocks learn."""
    first = tmp_path / "a"
    trained = Trainer(parse(_args(image_folder, camvid_root, first, "--steps", "1")))
    with torch.no_grad():  # a refiner that has opened its gates (a fresh one is exactly the linear code)
        trained.system.receiver.reconstruction.synthesis.gates.fill_(0.5)
    trained.save(0.0)
    old = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "x", "--steps", "1", "--init", str(first))))
    tr = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "b", "--steps", "2", "--task", "reconstruction",
                             "--init", str(first), "--grow-refiner", "2")))
    n = old.cfg.dit.decoder_blocks
    assert tr.cfg.dit.decoder_blocks == n + 2 and len(tr.system.receiver.reconstruction.synthesis.blocks) == n + 2
    batch = tr.next_batch()
    batch[RECONSTRUCTION].snr_db = torch.full_like(batch[RECONSTRUCTION].snr_db, 10.0)
    old.system.eval(), tr.system.eval()
    with torch.no_grad():
        a = old.system(batch, generator=torch.Generator().manual_seed(0))[RECONSTRUCTION]["image"]
        b = tr.system(batch, generator=torch.Generator().manual_seed(0))[RECONSTRUCTION]["image"]
    torch.testing.assert_close(a, b)
    new = tr.system.receiver.reconstruction.synthesis.blocks[n].body[-1].weight
    tr.train_step()
    assert new.abs().sum() > 0
    tr.save(0.0)
    assert read_config(tmp_path / "b")[0].dit.decoder_blocks == n + 2
    with pytest.raises(SystemExit, match="--grow-refiner appends blocks"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "c", "--steps", "1", "--grow-refiner", "1")))


def test_weight_ema_warms_up_averages_and_swaps():
    from semcom.train.ema import WeightEMA

    model = torch.nn.Linear(2, 1)
    frozen = torch.nn.Parameter(torch.ones(1), requires_grad=False)
    model.register_parameter("frozen", frozen)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = WeightEMA(model, 0.99)
    assert len(ema.params) == 2  # weight and bias; the frozen parameter cannot move
    assert ema.rate() == pytest.approx(0.1)  # (1 + 0) / (10 + 0): a fresh average follows the weights closely
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update()
    torch.testing.assert_close(ema.shadow[0], torch.full((1, 2), 0.9))  # 0 + (1 - 0.1) * (1 - 0)
    assert ema.updates == 1 and WeightEMA(model, 0.99, updates=10_000).rate() == 0.99
    with ema.swapped():
        torch.testing.assert_close(model.weight.detach(), torch.full((1, 2), 0.9))
    torch.testing.assert_close(model.weight.detach(), torch.ones(1, 2))  # its own weights again
    with pytest.raises(ValueError, match="decay"):
        WeightEMA(model, 1.0)


def test_ema_checkpoint_holds_the_average_and_resume_continues_the_raw_weights(image_folder, camvid_root, tmp_path,
                                                                               capsys):
    from safetensors.torch import load_file

    out = tmp_path / "ema"
    tr = Trainer(parse(_args(image_folder, camvid_root, out, "--steps", "3", "--task", "reconstruction",
                             "--ema", "0.9")))
    for _ in range(3):
        tr.train_step()
    tr.save(0.0)
    named = dict(tr.system.named_parameters())
    trained = [n for n, p in named.items() if p.requires_grad]
    avg, raw = load_file(str(out / "model.safetensors")), load_file(str(out / "raw" / "model.safetensors"))
    shadow = dict(zip((n for n, p in named.items() if p.requires_grad), tr.ema.shadow))
    moved = [n for n in trained if not torch.equal(raw[n], avg[n])]
    assert moved  # the average is not the last weights
    for n in trained:
        assert torch.equal(raw[n], named[n].detach()) and torch.equal(avg[n], shadow[n])
    _, doc = read_config(out)
    assert doc["meta"]["ema"] == {"decay": 0.9, "updates": 3, "weights": "average"}
    assert read_config(out / "raw")[1]["meta"]["ema"]["weights"] == "raw"
    # --resume: the optimiser continues from the raw weights, the average from the checkpoint
    tr2 = Trainer(parse(_args(image_folder, camvid_root, out, "--steps", "4", "--task", "reconstruction",
                              "--ema", "0.9", "--resume")))
    named2 = dict(tr2.system.named_parameters())
    assert tr2.step == 3 and tr2.ema.updates == 3
    for n, s in zip((n for n, p in named2.items() if p.requires_grad), tr2.ema.shadow):
        assert torch.equal(named2[n].detach(), raw[n]) and torch.equal(s, avg[n])
    with pytest.raises(SystemExit):
        parse(_args(image_folder, camvid_root, out, "--ema", "1"))
    assert "--ema takes a decay in [0, 1)" in capsys.readouterr().err


def test_merge_takes_each_tasks_parts_from_its_own_run(image_folder, camvid_root, tmp_path, capsys):
    """Two runs from one checkpoint, each freezing what the other task uses, merge into one; a run that moved a
    shared part is refused."""
    from safetensors.torch import load_file

    from semcom.cli import main as semcom_main

    from semcom.train.system import System
    from shared.config import get_preset
    from shared.weights import save_checkpoint

    base = tmp_path / "base"  # reconstruction on the patch code, so that the run can fit it to each image
    cfg = get_preset("test").replace(**{"encoder.dct_tasks": ()})
    torch.manual_seed(3)
    system = System(cfg)
    save_checkpoint(base, cfg, {"transmitter": system.transmitter, "receiver": system.receiver})
    shared_rec = ("transmitter", "receiver.analog", "receiver.source_kb.stem", "receiver.source_kb.block1")
    rec = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "rec", "--steps", "1", "--task",
                              "reconstruction", "--init", str(base), "--grow-refiner", "1", "--per-image-gains",
                              "reconstruction", *(a for f in shared_rec for a in ("--freeze", f)))))
    seg = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "seg", "--steps", "1", "--task", "segmentation",
                              "--init", str(base), "--seg-context", "--freeze-transmitter", "--freeze",
                              "receiver.analog", "--freeze", "receiver.source_kb", "--freeze",
                              "receiver.reconstruction")))
    for tr in (rec, seg):
        tr.train_step()
        tr.save(0.0)
    out = tmp_path / "both"
    assert semcom_main(["merge", "--reconstruction", str(tmp_path / "rec"), "--segmentation", str(tmp_path / "seg"),
                        "--out", str(out)]) == 0
    cfg, doc = read_config(out)
    assert cfg.dit.decoder_blocks == rec.cfg.dit.decoder_blocks and cfg.seg.context_bins == (1, 2, 3, 6)
    assert cfg.encoder.per_image_gains == ("reconstruction",)  # each task's own choice, from its own run
    merged = load_file(str(out / "model.safetensors"))
    r, s = (load_file(str(tmp_path / run / "model.safetensors")) for run in ("rec", "seg"))
    assert all(torch.equal(v, s[k] if k.startswith("receiver.segmentation.") else r[k]) for k, v in merged.items())
    assert any(not torch.equal(s[k], r[k]) for k in r if k.startswith("receiver.segmentation."))
    assert any(not torch.equal(r[k], s[k]) for k in s if k.startswith("receiver.reconstruction.") and k in r)
    assert doc["meta"]["merged"]["segmentation"]["from"] == str(tmp_path / "seg")
    # a segmentation run that moved the shared receiver KB: refused, with what to do
    bad = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "bad", "--steps", "1", "--task", "segmentation",
                              "--init", str(base), "--freeze-transmitter")))
    bad.train_step()
    bad.save(0.0)
    assert semcom_main(["merge", "--reconstruction", str(tmp_path / "rec"), "--segmentation", str(tmp_path / "bad"),
                        "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "differ in parts both tasks use (receiver." in err and "more): each run must freeze" in err
    assert not (tmp_path / "x").exists()


class _EpochRecorder(torch.utils.data.Dataset):
    """Three items; each remembers the epoch the trainer told the dataset before drawing it."""

    def __init__(self) -> None:
        self.epoch = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return 3

    def __getitem__(self, idx: int) -> torch.Tensor:
        return torch.tensor([self.epoch, idx])


def test_each_epoch_tells_the_dataset_its_number_from_the_start_epoch():
    # without it every epoch of a few hundred CamVid frames repeated the first epoch's crops and flips
    loader = torch.utils.data.DataLoader(_EpochRecorder(), batch_size=3, shuffle=True)
    batches = list(itertools.islice(train_mod._infinite(loader, None, start_epoch=7), 3))
    assert [b[:, 0].unique().tolist() for b in batches] == [[7], [8], [9]]
    assert all(sorted(b[:, 1].tolist()) == [0, 1, 2] for b in batches)


def test_a_resumed_run_draws_its_data_from_later_epochs(image_folder, camvid_root, tmp_path, monkeypatch):
    starts = []
    real = train_mod._infinite
    monkeypatch.setattr(train_mod, "_infinite", lambda loader, sampler, start: starts.append(start) or real(
        loader, sampler, start))
    out = tmp_path / "run"
    Trainer(parse(_args(image_folder, camvid_root, out, "--task", "segmentation", "--steps", "2"))).run()
    Trainer(parse(_args(image_folder, camvid_root, out, "--task", "segmentation", "--steps", "3", "--resume"))).run()
    assert starts == [0, 2]  # epochs so far <= steps so far: the resumed run never repeats one


def test_dct_code_trains_the_reconstruction_decoder_on_softcasts_image(image_folder, camvid_root, tmp_path):
    """--dct-code: the task is sent with the DCT code from then on (the patch code's per-image fit is dropped for it,
    no weights added), and a step trains its decoder on the LMMSE image; `semcom merge` keeps the choice."""
    from semcom.cli import main as semcom_main

    from semcom.train.system import System
    from shared.config import get_preset
    from shared.weights import save_checkpoint

    base = tmp_path / "base"  # a model of the patch code, fitted to each image
    patch = get_preset("test").replace(**{"encoder.dct_tasks": (), "encoder.per_image_gains": ("reconstruction",)})
    untrained = System(patch)
    save_checkpoint(base, patch, {"transmitter": untrained.transmitter, "receiver": untrained.receiver})
    with pytest.raises(SystemExit, match="sends reconstruction with the DCT code"):
        Trainer(parse(_args(image_folder, camvid_root, tmp_path / "x", "--init", str(base), "--dct-code",
                            "reconstruction", "--per-image-gains", "reconstruction")))
    rec = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "rec", "--steps", "1", "--task", "reconstruction",
                              "--init", str(base), "--dct-code", "reconstruction", "--freeze-transmitter",
                              "--freeze", "receiver.analog", "--freeze", "receiver.source_kb.stem", "--freeze",
                              "receiver.source_kb.block1")))
    assert rec.cfg.encoder.dct_tasks == ("reconstruction",) and rec.cfg.encoder.per_image_gains == ()
    assert rec.cfg.encoder.dct_allocation == patch.encoder.dct_allocation  # the base's
    before = {k: v.clone() for k, v in rec.system.receiver.reconstruction.state_dict().items()}
    out = rec.train_step()
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in out.values() if isinstance(v, (float, torch.Tensor)))
    after = rec.system.receiver.reconstruction.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    rec.save(0.0)
    assert read_config(tmp_path / "rec")[0].encoder.dct_tasks == ("reconstruction",)
    assert semcom_main(["merge", "--reconstruction", str(tmp_path / "rec"), "--segmentation", str(base),
                        "--out", str(tmp_path / "both")]) == 0
    cfg = read_config(tmp_path / "both")[0]
    assert cfg.encoder.dct_tasks == ("reconstruction",) and cfg.encoder.per_image_gains == ()
    flip = {"mmse": "softcast", "softcast": "mmse"}[rec.cfg.encoder.dct_allocation]
    other = Trainer(parse(_args(image_folder, camvid_root, tmp_path / "sc", "--steps", "1", "--task",
                                "reconstruction", "--init", str(tmp_path / "rec"), "--dct-allocation", flip,
                                "--dct-spread", "8", "--freeze-transmitter", "--freeze", "receiver.analog", "--freeze",
                                "receiver.source_kb.stem", "--freeze", "receiver.source_kb.block1")))
    assert other.cfg.encoder.dct_allocation == flip and other.cfg.encoder.dct_tasks == ("reconstruction",)
    assert other.cfg.encoder.dct_spread == 8 and rec.cfg.encoder.dct_spread == patch.encoder.dct_spread
    other.train_step()
    other.save(0.0)
    assert semcom_main(["merge", "--reconstruction", str(tmp_path / "sc"), "--segmentation", str(tmp_path / "rec"),
                        "--out", str(tmp_path / "both-sc")]) == 0
    merged = read_config(tmp_path / "both-sc")[0].encoder
    assert (merged.dct_allocation, merged.dct_spread) == (flip, 8)  # the reconstruction run's
