"""`semcom sweep` in this process: the spec, the store, reruns, shards that merge exactly, failures reported.
(The same on a real two-node Ray cluster: tests/e2e/test_sweep_ray.py.)"""

import json
from pathlib import Path

import pytest

from semcom.sweep import runner, spec
from semcom.sweep.cli import main
from semcom.sweep.store import Store


def _spec(tmp_path, body: str):
    path = tmp_path / "sweep.toml"
    path.write_text(body)
    return path


def _recon(folder, **extra) -> str:
    lines = [f'task = "reconstruction"', 'systems = ["proposed", "softcast"]', f'data = "{folder}"',
             'channels = ["awgn", {model = "rician", k_factor = 5}]', 'snr_db = [0, 10]', 'preset = "test"',
             'weights = "none"', 'steps = 2']
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "[[sweep]]\n" + "\n".join(lines) + "\n"


def test_the_grid_is_every_system_channel_csi_and_snr_once(image_folder, tmp_path):
    cells = spec.load(_spec(tmp_path, _recon(image_folder / "sub", csi=["perfect", "estimated"])))
    # 2 systems x 2 channels x 2 CSI x 2 SNRs, and each system's noiseless point
    assert len(cells) == 2 * 2 * 2 * 2 + 2 and len({c.key for c in cells}) == len(cells)
    rician = [c for c in cells if c.channel == "rician"]
    assert all(dict(c.params) == {"k_factor": 5.0} for c in rician)
    again = spec.load(_spec(tmp_path, _recon(image_folder / "sub", csi=["perfect", "estimated"])))
    assert [c.key for c in again] == [c.key for c in cells]  # keys follow what determines a cell, nothing else
    moved = spec.load(_spec(tmp_path, _recon(image_folder / "sub", csi=["perfect", "estimated"], device="cuda")))
    assert [c.key for c in moved] == [c.key for c in cells]


@pytest.mark.parametrize("body, text", [
    ('[[sweep]]\ntask = "depth"\n', "task must be one of reconstruction, segmentation"),
    ('[[sweep]]\ntask = "reconstruction"\ndata = "/nonexistent"\n', "no such data folder"),
    ("x = 1\n", "has no [[sweep]] table"),
    ("[[sweep]\n", "is not TOML"),
])
def test_spec_mistakes_are_one_line(tmp_path, body, text):
    with pytest.raises(spec.SpecError, match=text.replace("[", r"\[")):
        spec.load(_spec(tmp_path, body))


def test_unknown_systems_channels_and_fields_are_named(image_folder, tmp_path):
    with pytest.raises(spec.SpecError, match="unknown system 'nope'"):
        spec.load(_spec(tmp_path, _recon(image_folder / "sub").replace('"softcast"', '"nope"')))
    with pytest.raises(spec.SpecError, match="unknown channel model 'nakagami'"):
        spec.load(_spec(tmp_path, _recon(image_folder / "sub").replace('"awgn"', '"nakagami"')))
    with pytest.raises(spec.SpecError, match="unknown field.*snr"):
        spec.load(_spec(tmp_path, _recon(image_folder / "sub", snr=3)))
    with pytest.raises(spec.SpecError, match="block length does not apply"):
        spec.load(_spec(tmp_path, _recon(image_folder / "sub", block_len=64).replace('"awgn"', '"tdl-c"')))


def test_a_sweep_fills_the_store_once_and_draws_from_it(image_folder, tmp_path, capsys):
    path = _spec(tmp_path, _recon(image_folder / "sub"))
    store = tmp_path / "store"
    assert main([str(path), "--store", str(store), "--missing"]) == 0  # lists the cells, computes none
    listed = capsys.readouterr()
    assert "10 of 10 cell(s) missing" in listed.err and not store.exists()
    assert len(listed.out.splitlines()) == 10 and "proposed rician (k_factor 5) csi perfect 10 dB" in listed.out
    assert main([str(path), "--store", str(store), "--no-progress"]) == 0
    docs = Store(store).docs()
    assert len(docs) == 10 and "10 cell(s) computed, 0 already" in capsys.readouterr().err
    doc = next(d for d in docs if d["name"] == "proposed" and d["channel"] == "awgn" and d["snr_db"] == [10.0])
    assert doc["images"] == 3 and len(doc["per_image"]["10.0"]["psnr"]) == 3 and doc["command"].startswith("semcom")
    assert doc["key"] and doc["cell"]["dataset"] == "sub" and doc["weights_sha256"] is None  # weights none
    before = {p: p.stat().st_mtime_ns for p in (store / "reconstruction").glob("*.json")}
    assert main([str(path), "--store", str(store), "--no-progress"]) == 0
    assert "0 cell(s) computed, 10 already" in capsys.readouterr().err  # a rerun computes nothing
    assert main([str(path), "--store", str(store), "--missing"]) == 0
    assert "0 of 10 cell(s) missing" in capsys.readouterr().err
    assert before == {p: p.stat().st_mtime_ns for p in (store / "reconstruction").glob("*.json")}
    report = store / "report" / "sweep"  # one folder per spec (sweep.toml)
    tables = (report / "TABLES.md").read_text()
    assert "| proposed |" in tables and "| softcast |" in tables and "rician, k factor 5" in tables
    assert len(list(report.glob("*.png"))) == 2  # 2 channels x PSNR (no MS-SSIM below 160 px)
    # a cell of other weights (another digest, so another key) stays in the store and out of the report
    stale = dict(doc, key="0" * 40, results={"psnr": [99.5]}, weights_sha256="f" * 64)
    (store / "reconstruction" / "proposed_00000000000000000000.json").write_text(json.dumps(stale))
    assert main([str(path), "--store", str(store), "--report"]) == 0
    assert "10 of 10 cell(s)" in capsys.readouterr().err
    assert (report / "TABLES.md").read_text() == tables and "99.5" not in tables


def test_report_titles_say_the_channel_in_words():
    from semcom.sweep.report import channel_words

    params = {"delay_spread_ns": 300.0, "speed_kmh": 120.0, "carrier_ghz": 3.5, "subcarrier_spacing_khz": 30.0,
              "fft_size": 256.0, "cp_len": 0.0}
    assert channel_words("tdl-c", params) == ("TDL-C, carrier 3.5 GHz, cp len 0, delay spread 300 ns, fft size 256, "
                                              "speed 120 km/h, subcarrier spacing 30 kHz")
    assert channel_words("awgn", {}) == "awgn" and channel_words("rician", {"k_factor": 5.0}) == "rician, k factor 5"


def test_the_same_cell_from_semcom_eval_and_from_a_sweep(image_folder, tmp_path):
    from semcom.eval.cli import main as eval_main

    assert eval_main(["--task", "reconstruction", "--systems", "softcast", "--data", str(image_folder / "sub"),
                      "--snr", "0,10", "--preset", "test", "--weights", "none", "--out", str(tmp_path / "ev")]) == 0
    whole = json.loads((tmp_path / "ev" / "reconstruction_sub_awgn_softcast.json").read_text())
    store = Store(tmp_path / "store")
    cells = [c for c in spec.load(_spec(tmp_path, _recon(image_folder / "sub"))) if c.system == "softcast"]
    runner.run(cells, store, "test", progress=False)
    got = {d["snr_db"][0]: d for d in store.docs() if d["channel"] == "awgn"}
    assert [got[s]["results"]["psnr"][0] for s in (0.0, 10.0)] == whole["results"]["psnr"]
    assert got[10.0]["per_image"]["10.0"] == whole["per_image"]["10.0"]


@pytest.mark.parametrize("task", ["reconstruction", "segmentation"])
def test_shards_merge_to_the_whole_cells_numbers(image_folder, camvid_root, tmp_path, task):
    """PSNR over every image and mIoU from the summed confusion matrix: a cell split into shards gives the same
    numbers as the cell in one piece, never an average of shard results."""
    data = image_folder / "sub" if task == "reconstruction" else camvid_root
    body = _recon(data, noiseless=False).replace('"reconstruction"', f'"{task}"')
    if task == "segmentation":
        body = body.replace('"proposed", "softcast"', '"proposed"') + 'split = "train"\n'
    one = [c for c in spec.load(_spec(tmp_path, body))]
    three = [c for c in spec.load(_spec(tmp_path, body + "shards = 3\n"))]
    a, b = Store(tmp_path / "one"), Store(tmp_path / "three")
    runner.run(one, a, "test", progress=False)
    runner.run(three, b, "test", progress=False)
    key = lambda d: (d["name"], d["channel"], d["snr_db"][0])  # noqa: E731
    docs_a, docs_b = sorted(a.docs(), key=key), sorted(b.docs(), key=key)
    assert [d["results"] for d in docs_a] == [d["results"] for d in docs_b]
    assert [d["per_image"] for d in docs_a] == [d["per_image"] for d in docs_b]
    assert all(len(d["shards"]) == 3 for d in docs_b) and all(len(d["shards"]) == 1 for d in docs_a)


def test_a_failing_cell_is_reported_and_the_others_go_on(image_folder, tmp_path, capsys):
    body = _recon(image_folder / "sub", baseline_weights=str(tmp_path / "none")).replace(
        '"proposed", "softcast"', '"deepjscc", "softcast"')
    store = tmp_path / "store"
    assert main([str(_spec(tmp_path, body)), "--store", str(store), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "5 cell(s) computed, 0 already" in err and "5 failed" in err and "no trained deepjscc" in err
    assert {d["name"] for d in Store(store).docs()} == {"softcast"}


@pytest.mark.slow  # trains a (test preset) system for its budget, then evaluates it
def test_train_tables_train_each_system_for_the_budget_then_the_sweep_evaluates_them(image_folder, camvid_root,
                                                                                      tmp_path, capsys):
    body = f"""[training]
out = "{tmp_path / 'runs'}"
time_budget = 2
num_cpus = 1
args = ["--preset", "test", "--batch", "2", "--crop", "64", "--steps", "100000", "--val-every", "100000",
        "--ckpt-every", "5"]

[[train]]
system = "proposed"
task = "reconstruction"
args = ["--data", "{image_folder / 'sub'}"]

[[sweep]]
task = "reconstruction"
systems = ["proposed"]
data = "{image_folder / 'sub'}"
channels = ["awgn"]
snr_db = [5]
preset = "test"
weights = "{tmp_path / 'runs' / 'proposed'}"
steps = 1
"""
    path = _spec(tmp_path, body)
    jobs = spec.trainings(path)
    assert [j.system for j in jobs] == ["proposed"] and "--time-budget" in jobs[0].command()
    store = tmp_path / "store"
    # before training: --missing names the trainings (the cells' keys need the weights); --report says why not
    assert main([str(path), "--store", str(store), "--missing"]) == 0
    assert "1 of 1 training(s) to run first (proposed)" in capsys.readouterr().err
    assert main([str(path), "--store", str(store), "--report"]) == 2
    assert "proposed's weights: no config.json in" in capsys.readouterr().err
    assert main([str(path), "--store", str(store), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "train proposed: trained" in err and "2 cell(s) computed" in err
    assert (tmp_path / "runs" / "proposed" / "done").exists()
    state = json.loads((tmp_path / "runs" / "proposed" / "train_state.json").read_text())
    assert state["train_seconds"] >= 2.0  # the budget, spent
    docs = Store(store).docs()
    assert docs[0]["weights_sha256"] and docs[0]["weights"].endswith("proposed")
    assert main([str(path), "--store", str(store), "--no-progress"]) == 0  # nothing trained or computed again
    err = capsys.readouterr().err
    assert "train proposed: done already" in err and "0 cell(s) computed, 2 already" in err


SWEEPS = Path(__file__).parents[2] / "sweeps"


@pytest.mark.parametrize("name", sorted(p.name for p in SWEEPS.glob("*.toml")))
def test_every_shipped_spec_is_valid(name, tmp_path, monkeypatch):
    """The specs in sweeps/ name known systems, channels with parameters in range and known fields; their data
    and weights are stood in for (a fresh clone has neither ../shared/data nor the candidates' runs/)."""
    for folder in ("kodak", "camvid", "camvid/val"):  # camvid/val: street frames as photographs (dct1.toml)
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("SEMCOM_DATA", str(tmp_path))
    monkeypatch.setattr(spec, "weights_identity", lambda system, task, opts: "0" * 64)
    path = SWEEPS / name
    cells = spec.load(path)
    assert cells and len({c.key for c in cells}) == len(cells)
    assert all(c.data.startswith(str(tmp_path)) for c in cells)
    spec.trainings(path)  # a spec's [[train]] tables (if any) read as well
