"""What every learned JSCC baseline's code must do, checked the same way for each."""

import pytest
import torch


def check_code(m, img: torch.Tensor, snr: torch.Tensor, symbols: tuple[int, ...]) -> torch.Tensor:
    """`m.encode` sends complex symbols of shape `symbols` at CBR 1/16 with unit power per image, and `m.decode`
    trains every parameter through them. Returns the decoder's output."""
    x = m.encode(img, snr)
    assert x.shape == symbols and x.is_complex()
    assert x.numel() / 2 / img[0].numel() == pytest.approx(1 / 16)
    assert x.abs().pow(2).flatten(1).mean(1).tolist() == pytest.approx([1.0] * len(img), abs=1e-4)
    out = m.decode(x, snr)
    out.mean().backward()
    assert all(p.grad is not None for p in m.parameters())
    return out
