"""txclient's command line, without services: what it refuses before sending anything."""

import pytest

from semcom import txclient


def test_channel_choices_come_from_the_model_table(capsys):
    with pytest.raises(SystemExit) as exc:
        txclient.main(["send", "img.png", "--task", "segment", "--channel", "nakagami"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "invalid choice: 'nakagami'" in err and "rician" in err


def test_model_parameters_become_flags(capsys):
    with pytest.raises(SystemExit):
        txclient.main(["send", "--help"])
    out = capsys.readouterr().out
    assert "--k-factor" in out and "rician only (default 3)" in out
    args = txclient.parser().parse_args(["send", "x.png", "--task", "t", "--channel", "rician", "--k-factor", "5"])
    assert txclient.params_of(args) == {"k_factor": 5.0}
    assert txclient.params_of(txclient.parser().parse_args(["send", "x.png", "--task", "t"])) == {}
