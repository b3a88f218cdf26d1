"""SoftCast's whole-frame DCT chunk code (shared/dct_code.py), both ends, without a channel."""

import math

import pytest
import torch

from shared.dct_code import OPPONENT, ChunkDCT, dct_matrix


def test_the_dct_is_orthonormal_and_so_is_the_colour_rotation():
    for n in (8, 48):
        d = dct_matrix(n)
        assert torch.allclose(d @ d.T, torch.eye(n, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(OPPONENT @ OPPONENT.T, torch.eye(3), atol=1e-6)


def test_the_code_spends_its_channel_uses_side_information_included():
    code = ChunkDCT(chunk=16)
    n_chunks, uses = 3 * 48 * 32, 768 * 512 * 3 // 16  # a 768x512 image
    sent = code.chunks_sent(n_chunks, uses)
    analog = sent * 16 * 16 // 2  # complex channel uses of the sent chunks
    assert (sent, code.side_information(n_chunks, sent)) == (507, 8712)
    assert analog + code.side_information(n_chunks, sent) <= uses < analog + 16 * 16 // 2 + code.side_information(
        n_chunks, sent + 1)  # one more chunk would not fit
    with pytest.raises(ValueError, match="leave none for a chunk after the side information"):
        ChunkDCT(chunk=32).chunks_sent(3, 3 * 32 * 32 // 64)


def test_decoding_what_was_sent_gives_the_frame_less_what_was_dropped():
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 6, generator=g), size=(64, 48), mode="bicubic")[0]
    code = ChunkDCT(chunk=16)
    t, header = code.encode(img, uses=64 * 48 * 3 // 8)  # CBR 1/8: room for some of the 36 chunks
    assert t.dtype == torch.float32 and len(t) == len(header.order) * 256 and 0 < len(header.order) < 36
    exact = code.decode(t, torch.full_like(t, 1e-12), torch.tensor(1.0), header)  # no noise: LMMSE gain 1
    everything, full = code.encode(img, uses=64 * 48 * 3)  # room for every chunk
    assert len(full.order) == 36
    assert torch.allclose(code.decode(everything, torch.full_like(everything, 1e-12), torch.tensor(1.0), full), img,
                          atol=1e-3)  # the whole frame back, up to the float16 means
    dropped = float((exact - img).pow(2).mean())
    assert 0 < dropped < float((img - img.mean()).pow(2).mean())  # lost only the weakest chunks' energy
    with pytest.raises(ValueError, match="not whole 16x16 chunks"):
        code.encode(img[:, :60], uses=1000)


def test_on_a_symbol_grid_the_analog_values_lead_at_unit_power_and_the_side_information_takes_the_rest():
    g = torch.Generator().manual_seed(1)
    images = torch.nn.functional.interpolate(torch.rand(2, 3, 8, 6, generator=g), size=(64, 96), mode="bicubic")
    code = ChunkDCT(chunk=16)
    uses = 64 * 96 * 3 // 16  # CBR 1/16
    x, alpha, headers = code.encode_grid(images, uses)
    assert x.shape == (2, uses) and x.dtype == torch.complex64 and len(headers) == 2
    for row, a, header, img in zip(x, alpha, headers, images):
        m = len(header.order) * 16 * 16 // 2
        assert m + code.side_information(code.n_chunks((64, 96)), len(header.order)) <= uses
        assert float(row[:m].abs().pow(2).mean()) == pytest.approx(1.0, rel=1e-5)
        assert torch.equal(row[m:], torch.zeros(uses - m, dtype=row.dtype))  # the side information's uses
        t, _ = code.encode(img, uses)
        torch.testing.assert_close(torch.view_as_real(row[:m]).flatten(), t * a)
    out = code.decode_grid(x, torch.full(x.shape, 1e-12), alpha, headers)  # no noise: the truncation
    for o, t_image, header in zip(out, images, headers):
        t, _ = code.encode(t_image, uses)
        torch.testing.assert_close(o, code.decode(t, torch.full_like(t, 1e-12), torch.tensor(1.0), header))


def test_the_header_crosses_as_integers_and_is_checked_on_arrival():
    img = torch.rand(3, 64, 96, generator=torch.Generator().manual_seed(2))
    code = ChunkDCT(chunk=16)
    uses = 64 * 96 * 3 // 16
    _, header = code.encode(img, uses)
    means, order, codes = header.fields()
    back = code.header_from_fields(means, order, codes, (64, 96), uses)
    assert all(torch.equal(getattr(back, f), getattr(header, f)) for f in ("means", "order", "variances"))
    n = code.n_chunks((64, 96))
    sent = len(order)
    bad = {"three planes' means": dict(means=means[:2]), "finite float16": dict(means=(float("nan"),) * 3),
           f"sends {sent} chunks": dict(order=order[:-1]), "different numbers": dict(order=(order[0],) * sent),
           f"from 0 to {n - 1}": dict(order=(n,) + order[1:]), "8-bit: from -128 to 127": dict(codes=(128,) + codes[1:])}
    for match, change in bad.items():
        fields = {"means": means, "order": order, "codes": codes, **change}
        with pytest.raises(ValueError, match=match):
            code.header_from_fields(fields["means"], fields["order"], fields["codes"], (64, 96), uses)
    with pytest.raises(ValueError, match="too small for this task's DCT code.*at least 80x16 pixels"):
        code.check_codable((16, 64), 4 * 48, block=16)  # CBR 1/16: 48 channel uses per 16x16 block
    code.check_codable((16, 80), 5 * 48)  # the smallest strip of 16x16 blocks it sends


def test_the_mmse_allocation_is_softcasts_at_high_snr_and_beats_it_below():
    from shared.analog import softcast_gains
    from shared.dct_code import mmse_gains

    lam = torch.logspace(0, -6, 40, dtype=torch.float64)  # chunk variances, strongest first

    def mse(g, snr_db):  # the LMMSE error per value, each chunk at gain g, noise 0.5/snr per real value
        s2 = 0.5 * 10 ** (-snr_db / 10)
        return float((lam * s2 / (g.pow(2) * lam + s2)).sum())

    for snr in (-2.0, 1.0, 7.0, 13.0, 30.0):
        g = mmse_gains(lam, snr)
        assert float((g.pow(2) * lam).mean()) == pytest.approx(0.5, rel=1e-9)  # one unit per complex symbol
        assert mse(g, snr) <= mse(softcast_gains(lam), snr) + 1e-12
    assert (mmse_gains(lam, -2.0)[-5:] == 0).all()  # at low SNR the weakest chunks get no power
    ratio = mmse_gains(lam, 60.0) / softcast_gains(lam)
    assert torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-3)  # at high SNR, SoftCast's gains
    code = ChunkDCT(allocation="mmse")
    img = torch.rand(3, 64, 96, generator=torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match="needs the SNR"):
        code.encode(img, 64 * 96 * 3 // 16)
    t, header = code.encode(img, 64 * 96 * 3 // 16, snr_db=1.0)
    means, order, codes = header.fields()
    back = code.header_from_fields(means, order, codes, (64, 96), 64 * 96 * 3 // 16, 1.0)
    torch.testing.assert_close(code.gains(back), code.gains(header))
    with pytest.raises(ValueError, match="unknown power allocation"):
        ChunkDCT(allocation="waterfill")


def test_with_an_estimated_channel_each_chunks_noise_grows_with_its_power():
    """The estimate's error e reaches a symbol of power P as e P: ``decode_grid`` scales each chunk's noise by
    1 - share + share P (share = e / (no + e), ``Reception.estimate_share``), P the chunk's symbols' power, which
    the receiver computes from the header and must match what was sent."""
    from shared.channel import receive

    g = torch.Generator().manual_seed(5)
    images = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 6, generator=g), size=(64, 96), mode="bicubic")
    code = ChunkDCT(chunk=16)
    uses = 64 * 96 * 3 // 16
    x, alpha, headers = code.encode_grid(images, uses)
    header, m = headers[0], len(headers[0].order) * 128
    power = 2 * (alpha[0].double() * code.gains(header)).pow(2) * header.variances  # per complex symbol, per chunk
    sent = x[0, :m].abs().pow(2).view(-1, 128).mean(1).double()
    assert torch.allclose(power, sent, rtol=0.1)  # the quantised variances: within a step of 2^(1/4) / 2 or so
    assert float(power.max()) > 10 * float(power.min())  # the strong chunks carry far more than one unit
    err = torch.full((1, uses), 0.05)
    reception = receive(x, torch.ones(1, uses, dtype=torch.complex64), torch.tensor([0.05]), 10.0, err)
    torch.testing.assert_close(reception.estimate_share, torch.full((1, uses), 0.5))
    symbols, noise = reception.unbiased()
    told = code.decode_grid(symbols, noise, alpha, headers, reception.estimate_share)
    scaled = noise.clone().double()
    scaled[0, :m] *= (0.5 + 0.5 * power).repeat_interleave(128)
    torch.testing.assert_close(told, code.decode_grid(symbols, scaled, alpha, headers))
    assert receive(x, torch.ones(1, uses, dtype=torch.complex64), torch.tensor([0.05]), 10.0).estimate_share is None


def test_the_spreading_transforms_are_orthogonal_permutations_and_groups_cover_every_chunk():
    from shared.dct_code import hadamard, interleaver

    for n in (1, 2, 16, 64):
        h = hadamard(n)
        torch.testing.assert_close(h @ h, torch.eye(n, dtype=torch.float64))  # symmetric, its own inverse
    with pytest.raises(ValueError, match="power of two"):
        hadamard(12)
    for n in (1, 2, 10, 128, 507 * 128):  # 10: the golden step 6 shares a factor with 10, so it moves on to 7
        assert sorted(interleaver(n).tolist()) == list(range(n))
    p = interleaver(507 * 128)
    assert int((p[1:] - p[:-1]).abs().min()) > 1000  # neighbouring symbols land far apart
    code = ChunkDCT(spread=64)
    for sent in (1, 63, 64, 200, 507):
        groups = code.groups(sent)
        flat = torch.cat(groups).tolist() if groups else []
        assert len(flat) == len(set(flat)) and set(flat) <= set(range(sent))  # each chunk in one group at most
        assert all(len(g) & (len(g) - 1) == 0 and 1 < len(g) <= 64 for g in groups)
        assert sent - len(flat) <= 1  # only one chunk, one of the weakest, goes unmixed
        part = sent // 64 * 64 or sent  # the whole groups' chunks, or all when none is whole
        for g in groups[:max(1, sent // 64)]:  # each group mixes strong chunks with weak ones: it spans its part
            assert int(g.min()) < part / len(g) and int(g.max()) >= part - part / len(g)
    groups = code.groups(507)
    assert [len(g) for g in groups] == [64] * 7 + [32, 16, 8, 2]  # and one chunk of the weakest 59 on its own
    assert [g[:2].tolist() for g in groups[:2]] == [[0, 7], [1, 8]]  # every 7th of the strongest 448
    assert all(int(g.min()) >= 448 for g in groups[7:])
    with pytest.raises(ValueError, match="power of two"):
        ChunkDCT(spread=48)


def _smooth(seed: int, size=(64, 96)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.interpolate(torch.rand(1, 3, 8, 6, generator=g), size=size, mode="bicubic")


def test_over_awgn_the_spread_codes_lmmse_is_the_plain_codes():
    """An orthogonal transform of white noise is white noise: the spread code's LMMSE (one G x G solve per
    coefficient position) gives exactly what the plain code's per-chunk LMMSE gives for that noise turned back."""
    from shared.dct_code import hadamard

    img = _smooth(1)[0]
    uses = 64 * 96 * 3 // 16
    plain, spread = ChunkDCT(spread=1, allocation="mmse"), ChunkDCT(spread=16, allocation="mmse")
    t, header = plain.encode(img, uses, 4.0)
    ts, header_s = spread.encode(img, uses, 4.0)
    assert header_s.fields() == header.fields()
    sent = len(header.order)
    assert abs(float(ts.pow(2).sum() / t.pow(2).sum()) - 1) < 1e-5  # the power is the same
    noise = 0.3 * torch.randn(len(t), generator=torch.Generator().manual_seed(2))
    rows = spread._deinterleave(noise, sent)  # the noise the Hadamard rows got, turned back per group
    for g in spread.groups(sent):
        rows[g] = hadamard(len(g)) @ rows[g]
    nv = torch.full_like(t, 0.09)
    a = torch.tensor(1.0)
    torch.testing.assert_close(spread.decode(ts + noise, nv, a, header_s),
                               plain.decode(t + rows.flatten().float(), nv, a, header), atol=1e-5, rtol=0)
    # without noise both give the frame less the chunks not sent
    torch.testing.assert_close(spread.decode(ts, torch.full_like(t, 1e-12), a, header_s),
                               plain.decode(t, torch.full_like(t, 1e-12), a, header), atol=1e-4, rtol=0)


def test_spread_every_symbol_carries_about_the_mean_power_and_the_receiver_knows_it():
    """Spread, each symbol's expected power (``symbol_power``, what the estimated-channel noise scales with) is
    its group's mean: the total is the chunks', and what was sent matches it far better than the chunks' own."""
    images = _smooth(5, (128, 192))
    uses = 128 * 192 * 3 // 16
    plain, spread = ChunkDCT(spread=1), ChunkDCT(spread=16)
    for code in (plain, spread):
        x, alpha, headers = code.encode_grid(images, uses)
        header, m = headers[0], len(headers[0].order) * 128
        told = code.symbol_power(header, alpha[0])
        assert len(told) == m and abs(float(told.mean()) - 1) < 0.05  # unit power on average
        sent = x[0, :m].abs().pow(2).double()
        ratio = sent.view(-1, 128).mean(1) / told.view(-1, 128).mean(1)  # blocks of 128 uses
        if code is plain:  # each chunk on its own 128 uses, its power within the variance's quantisation
            assert float((ratio - 1).abs().max()) < 0.1 and float(told.max()) > 10 * float(told.min())
        else:  # spread, no use carries much more than the mean (plain, the strongest had 11 times it), and the
            # sent uses' power in blocks of 128 is within a factor 2 of what the receiver is told
            assert float(told.max()) < 2.5 and float((ratio.log()).abs().max()) < 0.7


def test_spreading_pays_on_a_frequency_selective_channel_estimated_from_pilots():
    """TDL-C, the channel estimated from OFDM pilots, the receiver scaling each symbol's noise to its power: the
    spread code's image is better than each chunk on its own symbols (its strong chunks no longer sit on a few
    symbols each held to |h|^2 / e), and the same over AWGN within noise."""
    from channel.step import transmit
    from shared.channel import ChannelSpec, receive

    images = _smooth(7, (128, 192))
    uses = 128 * 192 * 3 // 16
    err = {}
    for model, params in (("tdl-c", {"delay_spread_ns": 300.0, "speed_kmh": 30.0}), ("awgn", {})):
        spec = ChannelSpec.of(model, 7.0, 0, "estimated" if model == "tdl-c" else "perfect", **params)
        for spread in (1, 64):
            code = ChunkDCT(spread=spread, allocation="mmse")
            x, alpha, headers = code.encode_grid(images, uses, 7.0)
            mse = []
            for seed in range(3):
                rx = transmit(x, spec, seed)
                rec = receive(rx.y, rx.h, rx.noise_var, spec.snr_db, rx.err_var)
                out = code.decode_grid(*rec.unbiased(), alpha, headers, rec.estimate_share)
                mse.append(float((out.clamp(0, 1) - images).pow(2).mean()))
            err[model, spread] = sum(mse) / len(mse)
    assert err["tdl-c", 64] < 0.5 * err["tdl-c", 1]  # at least 3 dB
    assert abs(err["awgn", 64] / err["awgn", 1] - 1) < 0.15


def test_compact_side_information_is_an_index_that_round_trips_and_sends_more_chunks():
    """"compact" counts the set of sent chunks and the non-increasing variance codes as one enumerative index
    each: the indices of a real header fit the bits counted and give the header back, and a 768x512 image's
    side information shrinks from 8712 to 3197 bits, so 551 chunks go where 507 went."""
    from shared.dct_code import codes_of_subset, index_bits, rank_subset, unrank_subset, variance_subset

    g = torch.Generator().manual_seed(3)
    for n, k in ((1, 1), (10, 3), (4608, 507)):
        members = torch.randperm(n, generator=g)[:k].tolist()
        r = rank_subset(members)
        assert 0 <= r < math.comb(n, k) and r.bit_length() <= index_bits(math.comb(n, k))
        assert unrank_subset(r, k) == sorted(members)
    plain, compact = ChunkDCT(side_info="plain"), ChunkDCT(side_info="compact")
    assert (plain.chunks_sent(4608, 73728), plain.side_information(4608, 507)) == (507, 8712)
    assert (compact.chunks_sent(4608, 73728), compact.side_information(4608, 551)) == (551, 3197)
    assert 551 * 128 + 3197 <= 73728 < 552 * 128 + compact.side_information(4608, 552)
    img = _smooth(9, (128, 192))[0]
    uses = 128 * 192 * 3 // 16
    t, header = compact.encode(img, uses)
    means, order, codes = header.fields()
    n, k = 288, len(order)  # 3 planes of 8 x 12 chunks
    assert k == compact.chunks_sent(n, uses) > plain.chunks_sent(n, uses)
    chunk_index = rank_subset(list(order))
    variance_index = rank_subset(variance_subset(list(codes), 8))
    assert compact.side_information(n, k) == 48 + index_bits(math.comb(n, k)) + index_bits(math.comb(k + 255, k))
    assert chunk_index < math.comb(n, k) and variance_index < math.comb(k + 255, k)
    assert codes_of_subset(unrank_subset(variance_index, k), 8) == list(codes)  # strongest first, never rising
    # the receiver takes the chunks in sending order as the variances fall: the set and the codes are the header
    back = compact.header_from_fields(means, order, codes, (128, 192), uses)
    assert torch.equal(back.order, header.order) and torch.equal(back.variances, header.variances)
    rising = list(codes)
    rising[0], rising[-1] = rising[-1], rising[0]
    if rising != list(codes):
        with pytest.raises(ValueError, match="strongest first"):
            compact.header_from_fields(means, order, tuple(rising), (128, 192), uses)
