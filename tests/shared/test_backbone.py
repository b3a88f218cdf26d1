"""The pretrained segmentation backbone (shared.backbone): its ImageNet weights are real ones, mapped onto timm's
model in the right order, and the decoder starts as without it."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shared.backbone import BACKBONES, build_backbone, imagenet_state, load_imagenet
from shared.config import SegConfig, get_preset

KODAK = Path(__file__).resolve().parents[3] / "shared" / "data" / "kodak"


def test_an_unknown_backbone_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown segmentation backbone 'resnet9': efficientnet_lite0"):
        SegConfig(backbone="resnet9")
    assert SegConfig().backbone == ""  # none, as in every checkpoint made before it


@pytest.mark.skipif(not (KODAK / "kodim23.png").exists(), reason="needs ../shared/data/kodak")
@pytest.mark.parametrize("name, widths", [("efficientnet_lite0", [24, 40, 112, 320]),
                                          ("efficientnet_lite1", [24, 40, 112, 320]),
                                          ("efficientnet_lite2", [24, 48, 120, 352])])
def test_the_imagenet_weights_recognise_a_photograph(name, widths):
    """kodim23 is two parrots: the whole classifier, loaded by timm's names, calls it a macaw (ImageNet class
    88), so the package's tensors map onto timm's in the right order and with the right normalisation."""
    import timm

    spec = BACKBONES[name]
    net = timm.create_model(spec.timm_name, pretrained=False).eval()
    net.load_state_dict(imagenet_state(name))
    image = Image.open(KODAK / "kodim23.png").convert("RGB").resize((336, 224))
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255
    with torch.no_grad():
        p = net(((x - spec.mean) / spec.std)[None]).softmax(-1)[0]
    assert int(p.argmax()) == 88 and p[88] > 0.3, (int(p.argmax()), float(p.max()))
    # the feature extractor takes every tensor it has from them, its batch norm frozen
    features = build_backbone(name)
    assert load_imagenet(features, name) == len(features.state_dict())
    assert not any("BatchNorm2d" == type(m).__name__ for m in features.modules())
    f = features(torch.zeros(1, 3, 368, 480))
    assert [t.shape[1] for t in f] == features.feature_info.channels() == widths
    assert [t.shape[-2:] for t in f] == [(92, 120), (46, 60), (23, 30), (12, 15)]


def test_the_decoder_starts_as_without_the_backbone():
    """Its joins start at zero: logits equal to the same decoder's without it, on a grid of odd height (the
    stride-32 features are resized onto the grid)."""
    from receiver.segmentation import SegmentationDecoder

    cfg = get_preset("test").seg
    torch.manual_seed(0)
    plain = SegmentationDecoder(cfg, 20, 16).eval()
    torch.manual_seed(0)
    with_backbone = SegmentationDecoder(cfg.__class__(**{**cfg.__dict__, "backbone": "efficientnet_lite0"}),
                                        20, 16).eval()
    missing = with_backbone.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith(("backbone.", "backbone_out.")) for k in missing)
    x, image = torch.randn(2, 20, 23, 30), torch.rand(2, 3, 368, 480)
    with torch.no_grad():
        a, b = plain(x, image), with_backbone(x, image)
    assert a.shape == (2, cfg.num_classes, 368, 480)
    torch.testing.assert_close(a, b)
    with_backbone.train()
    loss = with_backbone(x, image).logsumexp(1).mean()
    loss.backward()
    assert all(conv.weight.grad.abs().sum() > 0 for conv in with_backbone.backbone_out)


def test_the_snr_gate_starts_at_one_and_learns_to_scale_the_backbone_by_the_snr():
    """--seg-backbone-gate: the same logits as the decoder without it at the start; trained, the gate differs
    between positions of different SNR, so a noisy image estimate can count for less there."""
    from receiver.segmentation import SegmentationDecoder

    cfg = get_preset("test").seg.__class__(**{**get_preset("test").seg.__dict__, "backbone": "efficientnet_lite0"})
    torch.manual_seed(0)
    plain = SegmentationDecoder(cfg, 20, 16).eval()
    with torch.no_grad():  # the joins moved off zero, as after training
        for conv in plain.backbone_out:
            conv.weight.normal_(0, 0.1)
    gated = SegmentationDecoder(cfg.__class__(**{**cfg.__dict__, "backbone_gate": True}), 20, 16).eval()
    missing = gated.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("backbone_gate.") for k in missing)
    x, image = torch.randn(2, 20, 7, 9), torch.rand(2, 3, 112, 144)
    snr = torch.linspace(0, 1, 2 * 7 * 9).view(2, 1, 7, 9)  # dB / 20: 0 to 20 dB across the grid
    with torch.no_grad():
        torch.testing.assert_close(plain(x, image), gated(x, image, snr))
    with pytest.raises(ValueError, match="pass the SNR map"):
        gated(x, image)
    torch.testing.assert_close(gated.backbone_gate_at(torch.tensor([0.0, 20.0])), torch.ones(2, 3))
    with pytest.raises(ValueError, match="no backbone gate"):
        plain.backbone_gate_at(torch.tensor([0.0]))
    gated.train()
    opt = torch.optim.Adam(gated.backbone_gate.parameters(), lr=0.05)
    for _ in range(50):  # ask for less backbone where the SNR is low
        opt.zero_grad()
        gate = gated._gate(snr)  # the decoder's own formula, so the test follows it
        ((gate - 2 * snr) ** 2).mean().backward()
        opt.step()
    low, high = gated.backbone_gate_at(torch.tensor([0.0, 20.0]))
    assert low.max() < high.min()
    with pytest.raises(ValueError, match="name seg.backbone too"):
        SegConfig(backbone_gate=True)


def test_the_backbone_can_read_the_image_at_a_larger_scale():
    """seg.backbone_scale: the backbone reads the image estimate resized by it, the decoder's output keeps the
    frame's size, and the same weights serve any scale (so a run may change it); refused outside [0.5, 2]."""
    from receiver.segmentation import SegmentationDecoder

    base = get_preset("test").seg
    cfg = base.__class__(**{**base.__dict__, "backbone": "efficientnet_lite0"})
    assert cfg.backbone_scale == 1.0  # as in every checkpoint made before it
    torch.manual_seed(0)
    one = SegmentationDecoder(cfg, 20, 16).eval()
    with torch.no_grad():  # the joins moved off zero, as after training
        for conv in one.backbone_out:
            conv.weight.normal_(0, 0.1)
    larger = SegmentationDecoder(cfg.__class__(**{**cfg.__dict__, "backbone_scale": 1.5}), 20, 16).eval()
    larger.load_state_dict(one.state_dict())
    seen = []
    larger.backbone.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    x, image = torch.randn(2, 20, 7, 9), torch.rand(2, 3, 112, 144)
    with torch.no_grad():
        a, b = one(x, image), larger(x, image)
    assert seen == [(2, 3, 168, 216)]
    assert a.shape == b.shape == (2, cfg.num_classes, 112, 144)
    assert not torch.allclose(a, b)  # the backbone's features differ, the rest is the same
    for bad in (0.25, 3.0):
        with pytest.raises(ValueError, match=r"factor in \[0.5, 2\]"):
            cfg.__class__(**{**cfg.__dict__, "backbone_scale": bad})
