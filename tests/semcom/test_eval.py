import json

from semcom.eval.cli import main, parse_snr


def test_parse_snr():
    assert parse_snr("0:20:5") == [0, 5, 10, 15, 20]
    assert parse_snr("1,4,7") == [1, 4, 7]


def test_eval_writes_json_and_plots(image_folder, camvid_root, tmp_path):
    out = tmp_path / "eval"
    assert main(["--task", "reconstruction", "--data", str(image_folder / "sub"), "--snr", "0:10:10", "--preset",
                 "test", "--weights", "none", "--limit", "2", "--out", str(out), "--steps", "2", "--examples", "1"]) == 0
    assert (out / "examples_reconstruction_sub_awgn_7dB.png").exists()
    doc = json.loads((out / "reconstruction_sub_awgn_proposed.json").read_text())
    assert main(["--task", "reconstruction", "--systems", "capacity-avif", "--data", str(image_folder / "sub"),
                 "--snr", "0:10:10", "--preset", "test", "--weights", "none", "--limit", "2", "--out", str(out)]) == 0
    cap = json.loads((out / "reconstruction_sub_awgn_capacity-avif.json").read_text())
    assert cap["results"]["psnr"][1] >= cap["results"]["psnr"][0] and cap["noiseless"]["psnr"] > 30
    assert doc["snr_db"] == [0, 10] and len(doc["results"]["psnr"]) == 2 and "psnr" in doc["noiseless"]
    assert doc["cbr"] == "1/16" and doc["seed"] == 0 and doc["command"].startswith("semcom eval")
    assert (out / "reconstruction_sub_awgn_psnr.png").exists()
    assert main(["--task", "segmentation", "--data", str(camvid_root), "--snr", "5", "--preset", "test",
                 "--weights", "none", "--out", str(out)]) == 0
    doc = json.loads((out / "segmentation_camvid_awgn_proposed.json").read_text())
    assert 0 <= doc["results"]["miou"][0] <= 1
    # per class: IoU and the confusion matrix (rows true, columns predicted), pixels summing to the labelled ones
    per = doc["per_image"]["5.0"]
    assert doc["class_names"][:4] == ["sky", "building", "pole", "road"] and len(per["iou"]) == 11
    labelled = 2 * 64 * (96 - 10)  # two val frames, the first 10 columns void
    assert len(per["confusion"]) == 11 and sum(map(sum, per["confusion"])) == labelled
    assert main(["--task", "segmentation", "--data", str(camvid_root), "--split", "train+val", "--snr", "5",
                 "--preset", "test", "--weights", "none", "--out", str(out)]) == 0
    doc = json.loads((out / "segmentation_camvid-train+val_awgn_proposed.json").read_text())
    assert doc["images"] == 6 and doc["split"] == "train+val"


def test_untrained_learned_baseline_is_a_clear_error(image_folder, tmp_path):
    import pytest

    with pytest.raises(SystemExit, match="no trained deepjscc"):
        main(["--task", "reconstruction", "--systems", "deepjscc", "--data", str(image_folder / "sub"),
              "--baseline-weights", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert main(["--task", "reconstruction", "--systems", "bpg", "--data", str(image_folder / "sub"),
                 "--out", str(tmp_path / "o")]) == 2


def test_a_folder_without_images_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["--task", "reconstruction", "--data", str(tmp_path / "empty"), "--preset", "test",
                 "--weights", "none", "--out", str(tmp_path / "o")]) == 2
    assert "no PNG or JPEG images in" in capsys.readouterr().err


def test_segmentation_baselines(camvid_root, tmp_path):
    import torch

    from semcom.baselines.learned import BaselineSystem

    torch.manual_seed(0)
    weights = tmp_path / "baselines"
    BaselineSystem("deeplab-jscc", width=8).eval().save(weights / "deeplab-jscc")
    BaselineSystem("fcn", width=8).eval().save(weights / "fcn")
    out = tmp_path / "eval"
    assert main(["--task", "segmentation", "--systems", "proposed,deeplab-jscc,fcn-jpeg-16qam-1/2", "--data",
                 str(camvid_root), "--crop", "64", "--snr", "0,10", "--preset", "test", "--weights", "none",
                 "--baseline-weights", str(weights), "--out", str(out), "--examples", "2"]) == 0
    shots = out / "examples" / "segmentation_camvid-crop64_awgn_7dB"
    assert {p.name for p in shots.glob("*_0.png")} == {"original_0.png", "truth_0.png", "proposed_0.png",
                                                       "deeplab-jscc_0.png", "fcn-jpeg-16qam-1-over-2_0.png"}
    assert (out / "examples_segmentation_camvid-crop64_awgn_7dB.png").exists()
    for name in ("proposed", "deeplab-jscc", "fcn-jpeg-16qam-1-over-2"):
        doc = json.loads((out / f"segmentation_camvid-crop64_awgn_{name}.json").read_text())
        assert len(doc["results"]["miou"]) == 2 and all(0 <= v <= 1 for v in doc["results"]["miou"])
        assert doc["crop"] == 64
    import pytest

    with pytest.raises(SystemExit, match="not a segmentation system"):
        main(["--task", "segmentation", "--systems", "witt", "--data", str(camvid_root), "--out", str(out)])


def test_a_missing_data_folder_is_named(tmp_path, capsys):
    for task in ("reconstruction", "segmentation"):
        assert main(["--task", task, "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
        assert f"no such folder: {tmp_path / 'nope'}" in capsys.readouterr().err


def test_eval_over_tdl_with_estimated_csi_counts_the_pilots(image_folder, tmp_path):
    """The same OFDM channel and estimation for every system; the JSON names the CSI and the CBR with pilots."""
    out = tmp_path / "eval"
    for csi in ("perfect", "estimated"):
        assert main(["--task", "reconstruction", "--systems", "proposed,softcast,jpeg-16qam-1/2", "--data",
                     str(image_folder / "sub"), "--snr", "10", "--preset", "test", "--weights", "none", "--limit", "1",
                     "--channel", "tdl-c", "--speed-kmh", "30", "--csi", csi, "--out", str(out / csi)]) == 0
        for name in ("proposed", "softcast", "jpeg-16qam-1-over-2"):
            doc = json.loads((out / csi / f"reconstruction_sub_tdl-c-carrier_ghz3.5-cp_len0-delay_spread_ns300-"
                                         f"fft_size256-speed_kmh30-subcarrier_spacing_khz30_{name}.json").read_text())
            assert doc["csi"] == csi and doc["pilot_uses"] % 256 == 0 < doc["pilot_uses"] and doc["cbr_with_pilots"] > 1 / 16
            assert doc["channel_params"]["speed_kmh"] == 30.0 and len(doc["results"]["psnr"]) == 1


def test_example_grid_titles_read_as_words():
    from semcom.eval.cli import grid_title

    assert grid_title("reconstruction_semcom-public_awgn_7dB") == "reconstruction, semcom-public, awgn, 7 dB"
    assert grid_title("reconstruction_kodak_tdl-c-carrier_ghz3.5-cp_len0-delay_spread_ns300-fft_size256-speed_kmh30-"
                      "subcarrier_spacing_khz30_7dB") == (
        "reconstruction, kodak, tdl-c (carrier_ghz3.5, cp_len0, delay_spread_ns300, fft_size256, speed_kmh30, "
        "subcarrier_spacing_khz30), 7 dB")
