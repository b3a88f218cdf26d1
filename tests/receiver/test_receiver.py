import dataclasses
import math

import pytest
import torch

from receiver.dit import DiT
from receiver.model import Receiver
from receiver.received import Received
from shared.config import DiTConfig
from shared.tasks import RECONSTRUCTION, SEGMENTATION


@pytest.fixture(scope="module")
def rx(test_cfg):
    torch.manual_seed(0)
    return Receiver(test_cfg).eval()


def _y(cfg, b=1, h=7, w=5):
    return torch.randn(b, 3 * cfg.encoder.symbol_channels, h, w)


def _received(cfg, b=1, h=7, w=5):
    return Received(_y(cfg, b, h, w), torch.randn(b, 2 * cfg.encoder.symbol_channels, h, w))


def test_source_kb_feature_selection(rx, test_cfg):
    y = _y(test_cfg)
    hid = test_cfg.rx_kb.hidden
    r = rx.source_kb(y, RECONSTRUCTION)
    s = rx.source_kb(y, SEGMENTATION)
    assert r.shape == (1, 2 * hid, 7, 5) and s.shape == (1, hid, 7, 5)
    assert torch.allclose(r[:, :hid], s)  # segmentation = first block's output only
    with pytest.raises(ValueError):
        rx.source_kb(y, "captioning")


def test_dit_shapes_odd_grid_and_adaln_zero():
    cfg = DiTConfig(hidden=32, depth=2, heads=4, patch=2)
    dit = DiT(cfg, state_channels=6, cond_channels=5)
    z = torch.randn(2, 6, 7, 9)
    out = dit(z, torch.tensor([3, 50]), torch.randn(2, 5, 7, 9), torch.tensor([0.0, 10.0]))
    assert out.shape == z.shape
    assert torch.all(out == 0)  # adaLN-Zero: the untrained network outputs zero
    with torch.no_grad():
        dit.final.linear.weight.normal_()
    out2 = dit(z, torch.tensor([3, 50]), torch.randn(2, 5, 7, 9), torch.tensor([0.0, 10.0]))
    assert out2.abs().sum() > 0


@pytest.mark.parametrize("steps", [1, 3, 8])
def test_reconstruction_any_step_count(rx, test_cfg, steps):
    seen = []
    img = rx.decode(_received(test_cfg), torch.tensor([10.0]), RECONSTRUCTION, (100, 70), steps=steps,
                    generator=torch.Generator().manual_seed(0), on_step=lambda i, n: seen.append((i, n)))
    assert img.shape == (1, 3, 100, 70) and 0 <= img.min() and img.max() <= 1
    assert len(seen) == steps


def test_segmentation_label_map(rx, test_cfg):
    labels = rx.decode(_received(test_cfg), torch.tensor([10.0]), SEGMENTATION, (100, 70))
    assert labels.shape == (1, 100, 70) and labels.dtype == torch.long
    assert 0 <= labels.min() and labels.max() < test_cfg.seg.num_classes


def test_segmentation_image_blocks_start_as_the_identity(test_cfg):
    """Image-resolution blocks added to a decoder without them: the same logits until training moves them."""
    from receiver.segmentation import SegmentationDecoder

    cfg = test_cfg.seg
    torch.manual_seed(3)
    plain = SegmentationDecoder(dataclasses.replace(cfg, image_blocks=0), 20, 16).eval()
    blocks = SegmentationDecoder(dataclasses.replace(cfg, image_blocks=2), 20, 16).eval()
    assert len(blocks.image_blocks) == 2 and plain.image_blocks is None
    missing = blocks.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("image_blocks.") for k in missing)
    x, image = torch.randn(2, 20, 3, 4), torch.rand(2, 3, 48, 64)
    with torch.no_grad():
        torch.testing.assert_close(blocks(x, image), plain(x, image))
        blocks.image_blocks[0].body[-1].weight.normal_()  # once trained they change the logits
        assert not torch.allclose(blocks(x, image), plain(x, image))


def test_segmentation_pyramid_pooling_starts_as_the_identity_and_sees_the_whole_grid(test_cfg):
    """PSPNet's pyramid pooling added to a decoder without it: the same logits until trained; once trained,
    a change at one corner of the symbol grid reaches the opposite corner of the module's output."""
    from receiver.segmentation import SegmentationDecoder

    cfg = test_cfg.seg
    torch.manual_seed(3)
    plain = SegmentationDecoder(dataclasses.replace(cfg, context_bins=()), 20, 16).eval()
    pooled = SegmentationDecoder(dataclasses.replace(cfg, context_bins=(1, 2, 3, 6)), 20, 16).eval()
    assert plain.context is None and len(pooled.context.branches) == 4
    missing = pooled.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("context.") for k in missing)
    x, image = torch.randn(1, 20, 5, 12), torch.rand(1, 3, 80, 192)  # a grid smaller than the 6x6 bins one way
    with torch.no_grad():
        torch.testing.assert_close(pooled(x, image), plain(x, image))
        pooled.context.out.weight.normal_(std=0.1)
        assert not torch.allclose(pooled(x, image), plain(x, image))
        z = torch.randn(1, cfg.hidden, 5, 12)
        far = z.clone()
        far[..., 0, 0] += 5.0  # top-left symbol position
        assert (pooled.context(far) - pooled.context(z))[..., -1, -1].abs().max() > 1e-2  # bottom-right


def test_class_balance_weights_favour_rare_classes_and_weight_the_loss(test_cfg):
    from receiver.segmentation import SegmentationDecoder, class_balance_weights

    w = class_balance_weights(torch.tensor([600, 300, 100, 0]))
    assert w.tolist() == sorted(w.tolist()) and w[-1] == pytest.approx(1 / math.log(1.02))
    assert w[0] == pytest.approx(1 / math.log(1.02 + 0.6))
    for bad in (torch.zeros(4), torch.ones(2, 2)):
        with pytest.raises(ValueError, match="one pixel count per class"):
            class_balance_weights(bad)
    dec = SegmentationDecoder(test_cfg.seg, 20, 16)
    k, void = test_cfg.seg.num_classes, test_cfg.seg.ignore_index
    logits = torch.randn(2, k, 4, 5)
    target = torch.randint(0, k, (2, 4, 5))
    target[0, 0] = void
    weight = torch.rand(k) + 0.5
    nll = -logits.log_softmax(1).gather(1, target.clamp(max=k - 1)[:, None])[:, 0]  # (B, H, W)
    labelled = target != void
    wt = weight[target.clamp(max=k - 1)] * labelled
    assert float(dec.loss(logits, target, weight)) == pytest.approx(float((wt * nll).sum() / wt.sum()), rel=1e-5)
    assert float(dec.loss(logits, target)) == pytest.approx(float(nll[labelled].mean()), rel=1e-5)


def test_training_losses_backprop(test_cfg):
    torch.manual_seed(0)
    rx = Receiver(test_cfg).train()
    c = test_cfg.encoder.symbol_channels
    received = _received(test_cfg, b=2, h=4, w=4)
    x = torch.complex(torch.randn(2, c, 4, 4), torch.randn(2, c, 4, 4))
    feats = rx.source_kb(received.grid, RECONSTRUCTION)
    with torch.no_grad():  # the DiT's output starts at zero, the refiner behind closed gates: open them
        rx.reconstruction.dit.final.linear.weight.normal_(0, 0.01)
        rx.reconstruction.synthesis.gates.fill_(0.5)
    out = rx.reconstruction.loss(received, feats, torch.tensor([5.0, 15.0]), x, torch.tensor([0.5, 2.0]),
                                 torch.rand(2, 3, 64, 64), torch.Generator().manual_seed(0), rx.analog)
    assert out["recon"].shape == (2, 3, 64, 64)
    logits = rx.segmentation.logits(received, rx.source_kb(received.grid, SEGMENTATION), rx.analog)
    target = torch.randint(0, test_cfg.seg.num_classes, (2, 64, 64))
    target[:, :8] = test_cfg.seg.ignore_index
    seg = rx.segmentation.loss(logits, target)
    (out["loss"] + seg).backward()
    grads = [p.grad for p in rx.parameters()]
    assert sum(g is not None for g in grads) == len(grads)
    assert all(torch.isfinite(g).all() for g in grads if g is not None)


def test_log_mse_loss_is_the_mean_psnr_of_the_batch(test_cfg):
    from receiver.reconstruction import LOG_MSE_SCALE

    torch.manual_seed(0)
    rx = Receiver(test_cfg).train()
    assert test_cfg.diffusion.log_mse
    c = test_cfg.encoder.symbol_channels
    received = _received(test_cfg, b=2, h=4, w=4)
    x = torch.complex(torch.randn(2, c, 4, 4), torch.randn(2, c, 4, 4))
    image = torch.rand(2, 3, 64, 64)
    feats = rx.source_kb(received.grid, RECONSTRUCTION)
    out = rx.reconstruction.loss(received, feats, torch.tensor([0.0, 20.0]), x, torch.tensor([1.0, 1.0]), image,
                                 torch.Generator().manual_seed(0), rx.analog)
    per_image = (out["recon"] - image).pow(2).flatten(1).mean(1)
    expected = LOG_MSE_SCALE * per_image.log().mean() + test_cfg.diffusion.latent_loss_weight * out["latent_mse"]
    torch.testing.assert_close(out["loss"], expected)
    torch.testing.assert_close(out["image_mse"], per_image.mean())


def test_check_wants_the_per_image_allocation_exactly_where_the_model_uses_it(test_cfg):
    from receiver.step import check_allocation
    from shared.channel import ChannelSpec
    from shared.transmission import Transmission

    cfg = test_cfg.replace(**{"encoder.dct_tasks": (), "encoder.per_image_gains": (RECONSTRUCTION,)})
    k = 2 * cfg.encoder.symbol_channels
    t = Transmission(id="a", task=RECONSTRUCTION, channel=ChannelSpec(), seed=0, grid=(k // 2, 2, 2),
                     image_size=(64, 64), scale=1.0, allocation=(1.0,) * k + (0.5,) * k)
    check_allocation(t, cfg)
    check_allocation(dataclasses.replace(t, task=SEGMENTATION, allocation=()), cfg)
    for bad, match in (((), "needs the linear code's per-image allocation"), ((1.0,) * k, f"{2 * k} numbers"),
                       ((1.0,) * (k - 1) + (0.0,) + (0.5,) * k, "must be ratios in"),
                       ((1.0,) * k + (math.nan,) + (0.5,) * (k - 1), "must be ratios in"),
                       ((1.0,) * k + (-0.5,) * k, "must be ratios in")):
        with pytest.raises(ValueError, match=match):
            check_allocation(dataclasses.replace(t, allocation=bad), cfg)
    with pytest.raises(ValueError, match="does not use"):
        check_allocation(dataclasses.replace(t, task=SEGMENTATION), cfg)
    with pytest.raises(ValueError, match="does not use"):
        check_allocation(t, test_cfg.replace(**{"encoder.dct_tasks": (), "encoder.per_image_gains": ()}))


def test_check_wants_the_dct_codes_side_information_exactly_where_the_model_sends_it(test_cfg):
    from receiver.step import check
    from shared.channel import ChannelSpec
    from shared.dct_code import ChunkDCT
    from shared.transmission import Transmission

    cfg = test_cfg.replace(**{"encoder.per_image_gains": (), "encoder.dct_tasks": (RECONSTRUCTION,)})
    rx = Receiver(cfg)
    c = cfg.encoder.symbol_channels
    _, header = ChunkDCT().encode(torch.rand(3, 64, 96, generator=torch.Generator().manual_seed(0)), c * 4 * 6)
    means, chunks, codes = header.fields()
    t = Transmission(id="a", task=RECONSTRUCTION, channel=ChannelSpec(), seed=0, grid=(c, 4, 6), image_size=(60, 90),
                     scale=1.0, dct_means=means, dct_chunks=chunks, dct_codes=codes, kb_fingerprint="k")
    check(t, rx, "k")
    assert len(rx.dct_headers(t)[0].order) == len(chunks)
    for bad, match in ((dict(dct_chunks=chunks[1:]), "the header names"), (dict(dct_codes=()), "the header names"),
                       (dict(dct_means=()), "three planes' means")):
        with pytest.raises(ValueError, match=match):
            check(dataclasses.replace(t, **bad), rx, "k")
    seg = dataclasses.replace(t, task=SEGMENTATION)
    with pytest.raises(ValueError, match="sends with its patch code"):
        check(seg, rx, "k")
    check(dataclasses.replace(seg, dct_means=(), dct_chunks=(), dct_codes=()), rx, "k")
