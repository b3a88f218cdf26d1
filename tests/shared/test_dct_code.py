"""SoftCast's whole-frame DCT chunk code (shared/dct_code.py), both ends, without a channel."""

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
