"""The symbol maths every system shares (shared/symbols.py)."""

from fractions import Fraction

import pytest
import torch

from shared.symbols import cbr_of, encode_symbols, snr_feature, symbol_channels, to_complex, to_real, unit_power


def test_cbr_rules_both_ways():
    assert symbol_channels("1/16", 16) == 48 and symbol_channels(Fraction(1, 16), 4) == 3
    assert symbol_channels("1/48", 4) == 1
    with pytest.raises(ValueError, match="complex channels per position"):
        symbol_channels("1/100", 4)
    assert cbr_of((48, 32, 48), (512, 768)) == pytest.approx(1 / 16)


def test_layout_power_and_snr_scale():
    z = torch.randn(2, 6, 3, 5) * 4
    x = to_complex(z)
    assert x.shape == (2, 3, 3, 5) and torch.equal(to_real(x), z)
    y, alpha = unit_power(x)
    torch.testing.assert_close(y.abs().pow(2).flatten(1).mean(1), torch.ones(2))
    torch.testing.assert_close(y / alpha.view(-1, 1, 1, 1), x)
    torch.testing.assert_close(encode_symbols(z), y)
    assert float(snr_feature(torch.tensor(10.0))) == 0.5
