"""`semcom`'s own dispatch: help for every level, one line for what it does not know."""

from semcom import cli


def test_bench_help_lists_the_benchmarks(capsys):
    assert cli.main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("models", "services", "diffusion", "taskkb"))
    assert cli.main(["bench"]) == 2


def test_unknown_commands_are_named(capsys):
    assert cli.main(["bench", "nope"]) == 2 and "unknown command 'bench nope'" in capsys.readouterr().err
    assert cli.main(["frobnicate"]) == 2 and "unknown command 'frobnicate'" in capsys.readouterr().err
