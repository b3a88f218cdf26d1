"""`semcom`'s own dispatch: help for every level, one line for what it does not know."""

import subprocess
import sys

import pytest

from semcom import cli


def test_bench_help_lists_the_benchmarks(capsys):
    assert cli.main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("models", "services", "diffusion", "taskkb"))
    assert cli.main(["bench"]) == 2


def test_unknown_commands_are_named(capsys):
    assert cli.main(["bench", "nope"]) == 2 and "unknown command 'bench nope'" in capsys.readouterr().err
    assert cli.main(["frobnicate"]) == 2 and "unknown command 'frobnicate'" in capsys.readouterr().err


def _run(*argv, timeout=120):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=timeout)


@pytest.mark.e2e  # runs the programs as processes, as a user does
def test_commands_as_users_run_them_end_in_one_line_and_the_right_status(tmp_path):
    from tests.e2e.conftest import free_ports

    port = free_ports(1)[0]
    img = tmp_path / "x.png"
    img.write_bytes(b"x")
    cases = [
        (("semcom.txclient", "send", str(img), "--task", "t", "--steps", "-3"), 2, "-3 is outside 0 to"),
        (("semcom.txclient", "send", str(img), "--task", "t", "--block-len", "-5"), 2, "-5 is outside 0 to"),
        (("semcom.txclient", "--receiver", f"127.0.0.1:{port}", "--transmitter", f"127.0.0.1:{port}", "--timeout",
          "2", "send", str(img), "--task", "t"), 1, "UNAVAILABLE"),
        (("semcom.cli", "eval", "--task", "reconstruction", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)),
         2, "no such folder"),
    ]
    for argv, code, text in cases:
        r = _run(*argv)
        last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        assert r.returncode == code and text in last and "Traceback" not in r.stderr, (argv, r.stderr)
    assert _run("semcom.cli", "bench", "--help").returncode == 0


@pytest.mark.parametrize("command", ["eval", "train"])
def test_help_and_option_mistakes_answer_without_loading_torch(command):
    """`semcom eval --help` took 10.9 s on a busy machine, all of it torch's import: options are read first."""
    code = ("import sys\nfrom semcom.cli import main\n"
            f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            f"try:\n    main([{command!r}, '--no-such-flag'])\nexcept SystemExit as e:\n    assert e.code == 2\n"
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False" and "usage: semcom " + command in r.stdout
