"""OFDM over TR 38.901 TDL channels (shared.ofdm): statistics of what Sionna draws through our grid and units."""

import math

import pytest
import torch

from shared.channel import Channel, ChannelSpec
from shared.ofdm import PILOT_SYMBOLS, SYMBOLS_PER_SLOT, Numerology, ResourceGrid, frequency_response, taps


def _num(profile="C", **values) -> Numerology:
    base = dict(delay_spread_ns=300.0, speed_kmh=3.0, carrier_ghz=3.5, subcarrier_spacing_khz=30.0, fft_size=256,
                cp_len=0)
    return Numerology.of(profile, {**base, **values})


def test_the_grid_puts_data_around_comb_pilots():
    grid = ResourceGrid(256, 5000)
    assert grid.data_per_slot == 13 * 256 and grid.slots == 2 and grid.pilot_uses == 2 * 256
    data, pilots = grid.data_index(), grid.pilot_index()
    assert len(data) == 5000 and len(set(data.tolist()) & set(pilots.tolist())) == 0
    sym, sc = pilots // 256, pilots % 256
    assert set((sym % SYMBOLS_PER_SLOT).tolist()) == set(PILOT_SYMBOLS) and bool((sc % 2 == 0).all())
    assert data.tolist() == sorted(data.tolist())  # OFDM symbol after OFDM symbol, subcarriers in order


@pytest.mark.parametrize("profile", ["A", "C", "D"])
def test_mean_power_per_resource_element_is_one(profile):
    h = frequency_response(_num(profile, speed_kmh=30.0), 400, 14, torch.Generator().manual_seed(1), "cpu")
    power = h.abs().pow(2)
    assert power.mean().item() == pytest.approx(1.0, abs=0.04)
    # every subcarrier and every OFDM symbol alike, not only on average over the grid
    assert power.mean(dim=(0, 1)).sub(1).abs().max().item() < 0.2
    assert power.mean(dim=(0, 2)).sub(1).abs().max().item() < 0.1


@pytest.mark.parametrize("spread_ns", [30.0, 300.0])
def test_the_drawn_taps_have_the_requested_rms_delay_spread(spread_ns):
    a, tau = taps(_num("A", delay_spread_ns=spread_ns), 300, 1, torch.Generator().manual_seed(2), "cpu")
    p = a[:, 0, 0, 0, 0, :, 0].abs().pow(2).mean(0)  # the power delay profile, averaged over draws
    d = tau[0, 0, 0]
    mean = (p * d).sum() / p.sum()
    rms = torch.sqrt((p * d.pow(2)).sum() / p.sum() - mean.pow(2)).item()
    assert rms * 1e9 == pytest.approx(spread_ns, rel=0.1)


def test_correlation_across_ofdm_symbols_follows_the_doppler():
    """Clarke/Jakes: E[H(t) H*(t + k T)] / E|H|^2 = J0(2 pi f_D k T) for a scattered (NLOS) channel."""
    num = _num("A", speed_kmh=120.0)
    h = frequency_response(num, 300, 28, torch.Generator().manual_seed(3), "cpu")  # (B, 28, 256)
    power = h.abs().pow(2).mean()
    for lag in (2, 6, 12, 20):
        corr = (h[:, lag:] * h[:, :-lag].conj()).mean().real / power
        want = torch.special.bessel_j0(torch.tensor(2 * math.pi * num.max_doppler_hz * lag * num.symbol_duration_s))
        assert corr.item() == pytest.approx(want.item(), abs=0.06), lag


def test_a_still_receiver_sees_a_channel_that_does_not_change():
    h = frequency_response(_num("C", speed_kmh=0.0), 4, 28, torch.Generator().manual_seed(4), "cpu")
    assert torch.allclose(h[:, :1].expand_as(h), h, atol=1e-5)


def test_the_realised_snr_per_resource_element_is_the_requested_one():
    spec = ChannelSpec.of("tdl-c", 7.0, 0, True, speed_kmh=30.0).validate()
    x = torch.polar(torch.ones(200, 4000), torch.rand(200, 4000) * 6.2832)  # unit power
    out = Channel.of(spec)(x, spec.snr_db, torch.Generator().manual_seed(5))
    signal = (out.h * x).abs().pow(2).mean()
    noise = (out.y - out.h * x).abs().pow(2).mean()
    assert (10 * torch.log10(signal / noise)).item() == pytest.approx(7.0, abs=0.1)
    assert out.noise_var[0].item() == pytest.approx(10 ** -0.7)


def test_a_request_seed_fixes_the_channel():
    spec = ChannelSpec.of("tdl-b", 10.0).validate()
    x = torch.ones(1, 3000, dtype=torch.complex64)
    a = Channel.of(spec)(x, 10.0, torch.Generator().manual_seed(6))
    b = Channel.of(spec)(x, 10.0, torch.Generator().manual_seed(6))
    c = Channel.of(spec)(x, 10.0, torch.Generator().manual_seed(7))
    assert torch.equal(a.y, b.y) and not torch.equal(a.h, c.h)


@pytest.mark.parametrize("params, text", [
    (dict(cp_len=5), "shorter than TDL-C's last tap"),
    (dict(fft_size=100), "must be one of 64, 128"),
    (dict(subcarrier_spacing_khz=20), "must be one of 15, 30"),
    (dict(cp_len=2.5), "whole number"),
    (dict(speed_kmh=-1), "outside the range"),
])
def test_parameters_that_do_not_fit_are_refused_in_one_line(params, text):
    with pytest.raises(ValueError, match=text):
        ChannelSpec.of("tdl-c", 10.0, 0, True, **params).validate()
    with pytest.raises(ValueError, match="block length does not apply"):
        ChannelSpec.of("tdl-c", 10.0, 64).validate()


def test_the_default_cyclic_prefix_covers_the_profile():
    num = _num("C", delay_spread_ns=300.0)
    assert num.cyclic_prefix == num.min_cp_len == 20  # 2.6 us of TDL-C at 7.68 MHz sampling
    assert num.cyclic_prefix / num.sample_rate_hz >= 8.6523 * 300e-9


def test_the_ls_estimate_at_the_pilots_errs_by_the_noise_variance():
    from shared.ofdm import estimate, pilot_values

    num, grid = _num("C", speed_kmh=30.0), ResourceGrid(256, 3328 * 2)
    h = frequency_response(num, 50, grid.ofdm_symbols, torch.Generator().manual_seed(8), "cpu")
    no = torch.full((50,), 0.1)
    _, _, ls = estimate(h, grid, no, torch.Generator().manual_seed(9), num.cyclic_prefix)
    err = (ls - pilot_values(h, grid)).abs().pow(2).mean().item()
    assert err == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize("model, params", [("tdl-a", dict(delay_spread_ns=30.0, speed_kmh=3.0)),
                                           ("tdl-c", dict(delay_spread_ns=300.0, speed_kmh=30.0)),
                                           ("rayleigh", {}), ("awgn", {})])
def test_estimated_csi_is_close_to_h_and_says_how_close(model, params):
    """The estimate's error on the data symbols is what the receiver is told it is (computed from the pattern,
    the prefix and the noise alone), within 15 % on the NLOS profiles the robust interpolator assumes."""
    block = 64 if model == "rayleigh" else 0
    spec = ChannelSpec.of(model, 10.0, block, "estimated", **params).validate()
    channel = Channel.of(spec)
    x = torch.polar(torch.ones(40, 6000), torch.rand(40, 6000) * 6.2832)
    out = channel(x, 10.0, torch.Generator().manual_seed(10))
    assert out.known is not None and out.err_var is not None and out.err_var.shape == x.shape
    torch.testing.assert_close(out.err_var, channel.error_var(6000, out.noise_var))  # the receiver's own sum
    mse = (out.known - out.h).abs().pow(2).mean().item()
    told = out.err_var.mean().item()
    assert told <= 0.1 + 1e-6 and mse == pytest.approx(told, rel=0.15)
    if model.startswith("tdl"):  # the LMMSE interpolator beats the LS noise (0.1 at 10 dB) several times over
        assert mse < 0.02
    perfect = Channel.of(ChannelSpec.of(model, 10.0, block, "perfect", **params))(x, 10.0,
                                                                                  torch.Generator().manual_seed(10))
    assert torch.equal(perfect.y, out.y) and perfect.err_var is None  # the same draw whatever the receiver knows


def test_pilots_count_as_channel_uses():
    tdl = Channel.of(ChannelSpec.of("tdl-c", 10.0))
    assert tdl.pilot_uses(5000) == 2 * 256  # two slots' comb pilots, whatever the receiver does with them
    assert Channel.of(ChannelSpec.of("rayleigh", 10.0, 64, "estimated")).pilot_uses(6400) == 100  # one per block
    assert Channel.of(ChannelSpec.of("rayleigh", 10.0, 64, "perfect")).pilot_uses(6400) == 0
    assert Channel.of(ChannelSpec.of("awgn", 10.0, 0, "estimated")).pilot_uses(6400) == 1
