import dataclasses

import pytest
import torch

from shared.channel import ChannelSpec
from shared.wire import CHUNK_SYMBOLS, SymbolAssembler, WireError, spec_from_proto, spec_to_proto, symbol_blocks


def test_chunked_round_trip_out_of_order():
    x = torch.complex(torch.randn(2500), torch.randn(2500))
    blocks = list(symbol_blocks(x, chunk=1000))
    assert [b.offset for b in blocks] == [0, 1000, 2000]
    asm = SymbolAssembler(2500)
    for b in reversed(blocks):
        asm.add(b)
    assert torch.equal(asm.tensor(), x.to(torch.complex64))


def test_default_chunk_stays_under_4_mib():
    assert CHUNK_SYMBOLS * 8 <= 2 * (1 << 20)


def test_assembler_rejects_bad_streams():
    x = torch.complex(torch.randn(10), torch.randn(10))
    (block,) = symbol_blocks(x)
    asm = SymbolAssembler(10)
    asm.add(block)
    with pytest.raises(WireError, match="overlaps"):
        asm.add(block)
    with pytest.raises(WireError, match="runs past"):
        SymbolAssembler(5).add(block)
    with pytest.raises(WireError, match="received 0 of 3"):
        SymbolAssembler(3).tensor()
    with pytest.raises(WireError, match="empty"):
        SymbolAssembler(0)


def test_channel_settings_round_trip():
    spec = ChannelSpec("rayleigh", 3.5, block_len=32, csi=False)
    msg = spec_to_proto(spec, seed=9)
    assert spec_from_proto(msg) == spec and msg.seed == 9
    assert msg.csi is False and msg.csi_mode == "none"
    msg.ClearField("csi")
    msg.ClearField("csi_mode")
    assert spec_from_proto(msg).csi == "perfect"  # unset means the receiver knows h
    msg.csi = False
    assert spec_from_proto(msg).csi == "none"  # a client that only knows the old flag
    estimated = ChannelSpec.of("tdl-c", 10.0, 0, "estimated")
    msg = spec_to_proto(estimated, seed=2)
    assert msg.csi is True and spec_from_proto(msg) == estimated
    msg.csi_mode = "guessed"
    with pytest.raises(ValueError, match="'guessed' is not one of perfect, estimated, none"):
        spec_from_proto(msg).validate()
    rician = ChannelSpec.of("rician", 12.0, 64, k_factor=3.0)
    msg = spec_to_proto(rician, seed=1)
    assert dict(msg.params) == {"k_factor": 3.0} and spec_from_proto(msg) == rician


def test_transmission_round_trips_through_the_header_and_is_validated_on_arrival():
    from shared.transmission import Transmission
    from shared.wire import header_of, transmission_of

    t = Transmission(id="a1", task="segmentation", channel=ChannelSpec("rayleigh", 7.5, block_len=32, csi=False),
                     seed=11, grid=(48, 2, 3), image_size=(32, 48), steps=4, scale=1.7, score=0.8,
                     kb_fingerprint="f")
    h = header_of(t, {"encode": 0.1})
    assert transmission_of(h) == t and h.timings_s["encode"] == 0.1
    assert t.channel_uses == 288 and t.cbr == pytest.approx(288 / (32 * 48 * 3))
    with_allocation = dataclasses.replace(t, task="reconstruction", allocation=(0.5, 2.0, 0.25, 1.5))
    assert transmission_of(header_of(with_allocation)) == with_allocation  # float32 values survive exactly
    with_dct = dataclasses.replace(t, task="reconstruction", dct_means=(0.49951171875, -0.03125, 0.0078125),
                                   dct_chunks=(7, 0, 3), dct_codes=(-128, 5, 127))  # float16 means, 8-bit codes
    assert transmission_of(header_of(with_dct)) == with_dct
    h.channel.model = "rician"
    h.channel.params["k_factor"] = -2.0
    with pytest.raises(ValueError, match="k_factor = -2.0 is outside"):
        transmission_of(h)
    h.channel.model = "nakagami"
    with pytest.raises(ValueError, match="unknown channel model"):
        transmission_of(h)
