import pytest
import torch

from semcom.pipeline import Pipeline, load_models
from shared.channel import ChannelSpec
from shared.tasks import RECONSTRUCTION
from shared.task_kb import NegotiationFailed, TaskKB, TaskNotUnderstood


@pytest.fixture(scope="module")
def pipeline(task_kb, test_cfg):
    torch.manual_seed(0)
    cfg, tx, rx = load_models(test_cfg, device="cpu")
    return Pipeline(cfg, tx, rx, task_kb, task_kb)


@pytest.mark.parametrize("hw", [(224, 224), (512, 768)])
def test_reconstruction_end_to_end(pipeline, hw):
    img = torch.rand(3, *hw, generator=torch.Generator().manual_seed(0))
    r = pipeline.run(img, "please reconstruct this image", ChannelSpec("awgn", 10.0), seed=3)
    assert r.task == "reconstruction" and r.score > 0.35
    assert r.output.shape == (3, *hw)
    assert r.cbr == pytest.approx(1 / 16) and r.channel_uses == hw[0] * hw[1] * 3 // 16
    assert abs(r.realised_snr_db - 10.0) < 1.0
    assert set(r.timings) == {"negotiate", "encode", "channel", "decode"}


def test_segmentation_end_to_end_rayleigh(pipeline):
    img = torch.rand(3, 120, 200)
    r = pipeline.run(img, "segment this image", ChannelSpec("rayleigh", 5.0, block_len=32, csi=False), seed=1)
    assert r.task == "segmentation" and r.output.shape == (120, 200)
    assert r.output.max() < len(r.class_names)


def test_seed_fixes_everything(pipeline):
    img = torch.rand(3, 64, 64)
    spec = ChannelSpec("rayleigh", 0.0, block_len=16)
    a = pipeline.run(img, "reconstruct the image", spec, seed=7, steps=3)
    b = pipeline.run(img, "reconstruct the image", spec, seed=7, steps=3)
    c = pipeline.run(img, "reconstruct the image", spec, seed=8, steps=3)
    assert torch.equal(a.output, b.output) and a.realised_snr_db == b.realised_snr_db
    assert a.realised_snr_db != c.realised_snr_db


def test_bad_requests(pipeline, task_kb):
    img = torch.rand(3, 64, 64)
    with pytest.raises(TaskNotUnderstood):
        pipeline.run(img, "tell me a joke")
    with pytest.raises(ValueError, match="unknown channel model"):
        pipeline.run(img, "segment this image", ChannelSpec("nakagami"))
    other = TaskKB(instructions={"reconstruction": ("image reconstruction",), "segmentation": ("image segmentation",)},
                   encoder=task_kb._encoder)
    mismatched = Pipeline(pipeline.cfg, pipeline.transmitter, pipeline.receiver, task_kb, other)
    with pytest.raises(NegotiationFailed, match="KBs differ"):
        mismatched.run(img, "segment this image")


def test_untrained_proposed_is_exactly_the_linear_code(test_cfg):
    """The oracle of the redesign: before training, the chain is the training-free linear code (its learned
    parts start silent), so everything training adds is measured from that floor."""
    from semcom.baselines.linear import LinearAnalog
    from semcom.pipeline import chain_runner

    cfg = test_cfg.replace(**{"encoder.dct_tasks": (), "encoder.per_image_gains": ()})  # the code's gains as fitted
    _, tx, rx = load_models(cfg, None, "cpu")  # no checkpoint: the linear path starts from the shipped fit
    img = torch.rand(3, 80, 96, generator=torch.Generator().manual_seed(4))
    for spec in (ChannelSpec("awgn", 3.0), ChannelSpec("rayleigh", 12.0, block_len=40), ChannelSpec("noiseless", 9)):
        ours = chain_runner(tx, rx, RECONSTRUCTION, steps=2)(img, spec, 5)
        torch.testing.assert_close(ours, LinearAnalog.load().reconstruct(img, spec, 5), atol=2e-5, rtol=0)


def test_untrained_proposed_with_per_image_gains_is_exactly_softcast(test_cfg):
    """With the allocation fitted to each image (``EncoderConfig.per_image_gains``) the untrained chain is SoftCast:
    the allocation crosses the chain as the transmission's side information and the receiver's LMMSE uses it."""
    from semcom.baselines.linear import LinearAnalog
    from semcom.pipeline import chain_runner

    cfg = test_cfg.replace(**{"encoder.dct_tasks": (), "encoder.per_image_gains": ("reconstruction",)})
    _, tx, rx = load_models(cfg, None, "cpu")
    img = torch.rand(3, 80, 96, generator=torch.Generator().manual_seed(4)) * 0.5 + 0.2
    softcast = LinearAnalog.load(adaptive=True)
    for spec in (ChannelSpec("awgn", 3.0), ChannelSpec("rayleigh", 12.0, block_len=40), ChannelSpec("noiseless", 9)):
        ours = chain_runner(tx, rx, RECONSTRUCTION, steps=2)(img, spec, 5)
        torch.testing.assert_close(ours, softcast.reconstruct(img, spec, 5), atol=5e-5, rtol=0)
    linear = LinearAnalog.load().reconstruct(img, ChannelSpec("awgn", 3.0), 5)
    assert (chain_runner(tx, rx, RECONSTRUCTION, steps=2)(img, ChannelSpec("awgn", 3.0), 5) - linear).abs().max() > 1e-2


def test_untrained_proposed_with_the_dct_code_is_exactly_softcast_dct(test_cfg):
    """With the DCT code (``EncoderConfig.dct_tasks``) the untrained chain is ``softcast-dct``: its side information
    crosses the chain in the transmission, the receiver decodes the LMMSE image and its untrained networks (a DiT
    that predicts no change, refiner gates at zero) return it. Noiseless, as the baseline spends no channel uses on
    the side information's zeros and so draws its noise differently."""
    from semcom.baselines.linear import SoftCastDCT
    from semcom.pipeline import chain_runner

    cfg = test_cfg.replace(**{"encoder.per_image_gains": (), "encoder.dct_tasks": ("reconstruction",),
                              "encoder.dct_allocation": "softcast"})  # the published allocation, as the baseline's
    _, tx, rx = load_models(cfg, None, "cpu")
    img = torch.nn.functional.interpolate(torch.rand(1, 3, 10, 12, generator=torch.Generator().manual_seed(4)),
                                          size=(70, 90), mode="bicubic")[0].clamp(0, 1)  # padded to 80x96
    spec = ChannelSpec("noiseless", 9.0)
    ours = chain_runner(tx, rx, RECONSTRUCTION, steps=2)(img, spec, 5)
    code = {"spread": cfg.encoder.dct_spread, "side_info": cfg.encoder.dct_side_info}
    assert code == {"spread": 64, "side_info": "compact"}  # the model's code; the baseline, told to, sends the same
    torch.testing.assert_close(ours, SoftCastDCT(**code).reconstruct(img, spec, 5), atol=2e-5, rtol=0)
    noisy = chain_runner(tx, rx, RECONSTRUCTION, steps=2)(img, ChannelSpec("awgn", 3.0), 5)
    assert 1e-3 < float((noisy - ours).pow(2).mean()) < float((img - img.mean()).pow(2).mean())
    # with the MMSE allocation, the same with the baseline's code at that allocation (the diffusion bench's floor)
    mmse = cfg.replace(**{"encoder.dct_allocation": "mmse"})
    _, tx, rx = load_models(mmse, None, "cpu")
    torch.testing.assert_close(chain_runner(tx, rx, RECONSTRUCTION, steps=2)(img, spec, 5),
                               SoftCastDCT(allocation="mmse", **code).reconstruct(img, spec, 5), atol=2e-5, rtol=0)
    assert vars(SoftCastDCT.of(mmse.encoder).code) == vars(SoftCastDCT(allocation="mmse", **code).code)


def test_the_dct_codes_mmse_allocation_is_chosen_at_both_ends_for_the_channels_snr(test_cfg):
    """With dct_allocation "mmse" the transmitter chooses the chunks' power for the SNR it sends at and the
    receiver inverts it with the SNR it is told (the header's channel): at 1 dB it beats SoftCast's allocation,
    with the same untrained decoder, on every draw."""
    from semcom.pipeline import chain_runner

    cfg = test_cfg.replace(**{"encoder.per_image_gains": (), "encoder.dct_tasks": ("reconstruction",)})
    img = torch.nn.functional.interpolate(torch.rand(1, 3, 10, 12, generator=torch.Generator().manual_seed(4)),
                                          size=(80, 96), mode="bicubic")[0].clamp(0, 1)
    errors = {}
    for allocation in ("softcast", "mmse"):
        _, tx, rx = load_models(cfg.replace(**{"encoder.dct_allocation": allocation}), None, "cpu")
        run = chain_runner(tx, rx, RECONSTRUCTION, steps=2)
        errors[allocation] = [float((run(img, ChannelSpec("awgn", 1.0), seed) - img).pow(2).mean())
                              for seed in range(4)]
    assert all(m < s for m, s in zip(errors["mmse"], errors["softcast"]))
