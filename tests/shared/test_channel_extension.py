"""A new channel model is one entry in shared/channel.py's table. Registered here for
the length of a test (Nakagami-m block fading, a model the project does not ship), it is validated, drawn, carried
over the wire and offered with its parameter by txclient, semcom eval and semcom train — no other file touched."""

import math

import pytest
import torch

from shared import channel as ch
from shared.wire import spec_from_proto, spec_to_proto


def nakagami_gains(batch, n, block_len, generator, device="cpu", m=1.0):
    """|h| ~ Nakagami-m (Omega = 1), uniform phase, per block; m in steps of 1/2: the power is a sum of 2m squared
    standard normals over 2m, a Gamma(m, 1/m) drawn from the request's generator."""
    block = n if block_len <= 0 else min(block_len, n)
    blocks = math.ceil(n / block)
    k = max(1, round(2 * m))
    power = torch.randn(batch, blocks, k, generator=generator, device=device).pow(2).sum(-1) / k
    phase = 2 * math.pi * torch.rand(batch, blocks, generator=generator, device=device)
    h = torch.polar(power.sqrt(), phase).to(torch.complex64)
    return h.repeat_interleave(block, dim=1)[:, :n]


@pytest.fixture
def nakagami(monkeypatch):
    model = ch.ChannelModel("nakagami", "Nakagami-m block fading", gains=nakagami_gains, fading=True,
                            params=(ch.ChannelParam("m", 1.0, 0.5, 100.0, "Nakagami m (1 = Rayleigh)"),))
    monkeypatch.setitem(ch.MODELS, "nakagami", model)
    return model


def test_a_table_entry_is_a_whole_channel_model(nakagami):
    spec = ch.ChannelSpec.of("nakagami", 10.0, 8, m=4.0).validate()
    with pytest.raises(ValueError, match="m = 0.1 is outside the range"):
        ch.ChannelSpec.of("nakagami", 10.0, m=0.1).validate()
    torch.manual_seed(0)
    x = torch.polar(torch.ones(1, 80_000), torch.rand(1, 80_000) * 6.28)
    out = ch.Channel.of(spec)(x, 10.0, torch.Generator().manual_seed(1))
    assert out.h.abs().pow(2).mean().item() == pytest.approx(1.0, abs=0.05)
    assert spec_from_proto(spec_to_proto(spec, 3)) == spec  # the wire carries it by name


def test_every_cli_offers_it_with_its_flag(nakagami, capsys):
    from semcom import txclient
    from semcom.eval import cli as eval_cli
    from semcom.train import trainer

    args = txclient.parser().parse_args(["send", "x.png", "--task", "t", "--channel", "nakagami", "--m", "2"])
    assert args.channel == "nakagami" and txclient.params_of(args) == {"m": 2.0}
    with pytest.raises(SystemExit):
        eval_cli.main(["--help"])
    assert "nakagami" in capsys.readouterr().out
    tc = trainer.parse(["--data", "x", "--out", "o", "--fading", "nakagami", "--m", "3"])
    assert tc.fading == ("nakagami",) and tc.channel_params == (("m", 3.0),)
