import dataclasses

import pytest
import torch

from shared.config import get_preset
from shared.symbols import to_complex, unit_power
from shared.tasks import RECONSTRUCTION, SEGMENTATION
from shared.weights import REPO_WEIGHTS
from transmitter.jscc_encoder import JSCCEncoder
from transmitter.model import Transmitter
from transmitter.source_kb import SwinSourceKB


@pytest.fixture(scope="module")
def tx(test_cfg):
    torch.manual_seed(0)
    return Transmitter(test_cfg).eval()


@pytest.mark.parametrize("hw", [(224, 224), (512, 768)])
def test_feature_levels_and_selection(tx, hw):
    img = torch.rand(1, 3, *hw)
    with torch.no_grad():
        f1, f2, f3 = tx.source_kb.levels(img)
        grid = (hw[0] // 4, hw[1] // 4)
        for f in (f1, f2, f3):
            assert f.shape == (1, tx.cfg.swin.feature_dim, *grid)
        assert torch.allclose(tx.source_kb(img, RECONSTRUCTION), f1 + f2 + f3, atol=1e-5)
        assert torch.allclose(tx.source_kb(img, SEGMENTATION), f2 + f3, atol=1e-5)
    assert tx.source_kb.reductions == [4, 8, 16]


@pytest.mark.parametrize("hw", [(224, 224), (512, 768), (100, 130)])
@pytest.mark.parametrize("task", [RECONSTRUCTION, SEGMENTATION])
def test_symbols_unit_power_and_cbr(tx, hw, task):
    with torch.no_grad():
        packet = tx(torch.rand(1, 3, *hw), task, 10.0)
    c, h, w = packet.grid
    s = tx.cfg.encoder.stride
    assert (h, w) == (-(-hw[0] // s), -(-hw[1] // s))
    assert packet.symbols.shape == (1, c * h * w) and packet.symbols.is_complex()
    sent = packet.symbols
    if task in tx.cfg.encoder.dct_tasks:  # the DCT code's values lead; its side information's uses are empty
        sent, rest = sent[:, :len(packet.dct[0].order) * 128], sent[:, len(packet.dct[0].order) * 128:]
        assert 0 < rest.shape[1] < c * h * w and not rest.abs().any()
    assert sent.abs().pow(2).mean().item() == pytest.approx(1.0, abs=1e-4)
    assert packet.channel_uses == c * h * w
    assert packet.cbr == pytest.approx(packet.channel_uses / (hw[0] * hw[1] * 3))
    if hw[0] % s == 0 and hw[1] % s == 0:
        assert packet.cbr == pytest.approx(1 / 16)


def test_untrained_sends_the_linear_code_then_tasks_differ(test_cfg):
    from semcom.baselines.linear import LinearAnalog
    from shared.analog import PatchPCA

    pca = PatchPCA.load(REPO_WEIGHTS / "linear")
    cfg = test_cfg.replace(**{"encoder.dct_tasks": (), "encoder.per_image_gains": ()})
    tx = Transmitter(cfg, pca).eval()  # the code as fitted
    img = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        rec, seg = tx(img, RECONSTRUCTION, 10.0), tx(img, SEGMENTATION, 10.0)
        linear, alpha = unit_power(to_complex(LinearAnalog(pca).encoder(img)))
        torch.testing.assert_close(rec.symbols, linear.reshape(1, -1))  # the learned path starts silent
        torch.testing.assert_close(rec.scale, alpha)
        assert torch.equal(rec.symbols, seg.symbols)
        tx.encoder.gate.fill_(0.5)  # once the learned path is open, the tasks' features differ
        assert not torch.allclose(tx(img, RECONSTRUCTION, 10.0).symbols, tx(img, SEGMENTATION, 10.0).symbols)


def test_paper_swin_is_table_1():
    kb = SwinSourceKB(get_preset("paper").swin)
    stages = kb.backbone.layers_0, kb.backbone.layers_1, kb.backbone.layers_2
    assert kb.backbone.feature_info.channels() == [96, 192, 384]
    assert [s.blocks[0].attn.num_heads for s in stages] == [3, 6, 12]
    assert stages[0].blocks[0].window_size == (7, 7)
    assert kb.backbone.patch_embed.patch_size == (4, 4)


def test_encoder_gradients_flow(test_cfg):
    enc = JSCCEncoder(test_cfg.encoder, 8)
    with torch.no_grad():
        enc.gate.fill_(0.5)  # it starts closed, which stops the gradient to the layers behind it
    img = torch.rand(2, 3, 32, 32)
    x, scale, _ = enc(img, torch.randn(2, 8, 8, 8, requires_grad=True), RECONSTRUCTION, torch.tensor([0.0, 20.0]))
    (x.abs().sum() + scale.sum()).backward()
    unused = {n for n, _ in enc.named_parameters() if n.startswith(f"snr_gate.{SEGMENTATION}.")}
    assert unused and all(p.grad is not None for n, p in enc.named_parameters() if n not in unused)
    assert all(p.grad is None for n, p in enc.named_parameters() if n in unused)


def test_snr_gate_starts_as_the_plain_gate_then_follows_snr_and_task(test_cfg):
    torch.manual_seed(0)
    enc = JSCCEncoder(dataclasses.replace(test_cfg.encoder, per_image_gains=()), 8).eval()  # the code as fitted
    img, feat = torch.rand(2, 3, 32, 32), torch.randn(2, 8, 8, 8)
    snr = torch.tensor([0.0, 20.0])
    with torch.no_grad():
        enc.gate.fill_(0.5)
        before = enc(img, feat, RECONSTRUCTION, snr)[0]
        plain = dataclasses.replace(enc.cfg, snr_gate=False)
        ref = JSCCEncoder(plain, 8).eval()
        ref.load_state_dict({k: v for k, v in enc.state_dict().items() if not k.startswith("snr_gate.")})
        torch.testing.assert_close(before, ref(img, feat)[0])  # identity at the start, at every SNR
        # a gate that falls with SNR: the same image sent at 20 dB carries less of the learned path
        last = enc.snr_gate[RECONSTRUCTION].net[-1]
        last.weight.fill_(-0.1)
        same = img[:1].expand(2, -1, -1, -1), feat[:1].expand(2, -1, -1, -1)
        x, _, _ = enc(*same, RECONSTRUCTION, snr)
        linear, _ = unit_power(to_complex(enc.analog(same[0])))
        err = (x - linear).abs().pow(2).flatten(1).mean(1)
        assert err[1] < err[0]
        torch.testing.assert_close(enc(*same, SEGMENTATION, snr)[0][0], ref(*same)[0][0])  # per task
        with pytest.raises(ValueError, match="SNR"):
            enc(img, feat)



def test_per_image_gains_fit_the_linear_code_to_each_image_for_the_named_task(test_cfg):
    """With per_image_gains the untrained encoder sends SoftCast's code of each image (the allocation beside it),
    and only for the tasks named."""
    from semcom.baselines.linear import LinearAnalog
    from shared.analog import PatchPCA, per_image_allocation

    pca = PatchPCA.load(REPO_WEIGHTS / "linear")
    cfg = test_cfg.replace(**{"encoder.dct_tasks": (), "encoder.per_image_gains": (RECONSTRUCTION,)})
    tx = Transmitter(cfg, pca).eval()
    img = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    img[1] = img[1] * 0.2 + 0.4  # a low-contrast image: its own allocation differs from the first's
    code = LinearAnalog(pca, adaptive=True)
    with torch.no_grad():
        rec, seg = tx(img, RECONSTRUCTION, 10.0), tx(img, SEGMENTATION, 10.0)
        t = code.encoder(img)
        allocation = per_image_allocation(t, code.gains)
        softcast, alpha = unit_power(to_complex(t * allocation[:, 0, :, None, None]))
    assert rec.allocation.shape == (2, 2, 2 * cfg.encoder.symbol_channels)
    torch.testing.assert_close(rec.allocation, allocation, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(rec.symbols, softcast.reshape(2, -1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(rec.scale, alpha, rtol=1e-4, atol=0)
    assert not torch.allclose(rec.allocation[0, 0], rec.allocation[1, 0])  # one allocation per image
    assert seg.allocation is None  # segmentation keeps the fitted code
    torch.testing.assert_close(seg.symbols.reshape(2, -1), unit_power(to_complex(t))[0].reshape(2, -1))
