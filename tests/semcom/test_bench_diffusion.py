"""`semcom bench diffusion` on the test preset: every variant measured, and untrained it is the linear code."""

import json

from semcom.bench.diffusion import main


def test_untrained_decoders_all_equal_the_linear_code(image_folder, tmp_path, capsys):
    out = tmp_path / "diffusion.json"
    assert main(["--data", str(image_folder / "sub"), "--preset", "test", "--weights", "none", "--steps", "1,3",
                 "--limit", "2", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    r = doc["results"]
    assert set(r) == {"steps=1", "steps=1 noise=1", "steps=3", "steps=3 noise=1", "dit bypassed",
                      "linear code alone"}
    assert all({"psnr", "spectral_distance_db", "seconds"} <= set(v) for v in r.values())
    # the DiT's correction and the refiner start at zero: whatever the steps or the noise, the linear code's image
    decoded = {v["psnr"] for k, v in r.items() if k != "linear code alone"}
    assert len(decoded) == 1
    # the code alone (the test preset's, the DCT code) draws its noise for its own channel uses, the chain also
    # for the side information's: the same code, another noise draw
    assert abs(r["linear code alone"]["psnr"] - decoded.pop()) < 0.25
    assert doc["max_psnr_spread_over_noise_db"] == {"1": 0.0, "3": 0.0} and doc["images"] == 2
