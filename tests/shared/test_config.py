import pytest

from shared.config import PRESETS, EncoderConfig, ModelConfig, get_preset


def test_registry_has_the_three_presets():
    assert set(PRESETS) == {"paper", "cpu", "test"}
    with pytest.raises(ValueError, match="known presets: paper, cpu, test"):
        get_preset("huge")


def test_paper_preset_is_table_1():
    cfg = get_preset("paper")
    assert (cfg.swin.window_size, cfg.swin.patch_size, cfg.swin.num_heads[0], cfg.swin.embed_dim) == (7, 4, 3, 96)
    assert len(cfg.swin.depths) == 3
    assert cfg.encoder.hidden == 128
    assert (cfg.dit.depth, cfg.dit.patch, cfg.dit.heads) == (28, 2, 16)
    assert cfg.seg.dropout == 0.1 and cfg.seg.num_classes == 21


@pytest.mark.parametrize("name", list(PRESETS))
def test_json_round_trip(name):
    cfg = get_preset(name)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_a_config_from_before_the_linear_code_is_refused_in_words():
    old = get_preset("test").to_dict()
    for encoder in ({**old["encoder"], "linear_path": False}, {k: v for k, v in old["encoder"].items()
                                                               if k != "linear_path"}):
        with pytest.raises(ValueError, match="predates the encoder's linear analog code"):
            ModelConfig.from_dict({**old, "encoder": encoder})
    with pytest.raises(ValueError, match="no longer builds"):
        EncoderConfig(linear_path=False)


def test_cbr_sets_symbol_channels():
    assert EncoderConfig(n_down=2, cbr="1/16").symbol_channels == 48  # 3 * 16^2 / 16
    assert EncoderConfig(n_down=1, cbr="1/16").symbol_channels == 12
    assert EncoderConfig(n_down=2, cbr="1/64").symbol_channels == 12
    with pytest.raises(ValueError, match="integer"):
        _ = EncoderConfig(n_down=0, cbr="1/7").symbol_channels


def test_replace_dotted():
    cfg = get_preset("test").replace(**{"encoder.cbr": "1/32", "name": "x"})
    assert cfg.encoder.cbr == "1/32" and cfg.name == "x"


def test_image_size_and_step_caps():
    cfg = get_preset("test")  # 1024 px per side, 100 diffusion timesteps
    cfg.check_image_size(1, 1)
    cfg.check_image_size(1024, 1024)
    for h, w in ((0, 10), (10, 0), (1025, 10), (2**32 - 1, 16)):
        with pytest.raises(ValueError, match="outside the cap"):
            cfg.check_image_size(h, w)
    cfg.check_steps(0)  # the default
    cfg.check_steps(100)
    with pytest.raises(ValueError, match="the sampler takes 1 to 100"):
        cfg.check_steps(101)
    with pytest.raises(ValueError, match="the sampler takes 1 to 100"):
        cfg.check_steps(2**32 - 1)


def test_a_task_takes_one_code_and_dct_chunks_tile_the_padded_image():
    from shared.config import cpu

    dct = cpu()  # the preset sends reconstruction with the DCT code
    assert dct.encoder.dct_tasks == ("reconstruction",)
    with pytest.raises(ValueError, match="DCT code \\(dct_tasks\\) or with the patch code"):
        dct.replace(**{"encoder.per_image_gains": ("reconstruction",)})  # one code per task
    with pytest.raises(ValueError, match="use a divisor of the stride 16"):
        dct.replace(**{"encoder.dct_chunk": 12})
    dct.check_codable(16, 64, "reconstruction")  # compact side information: 188 bits beside one chunk's 128 uses
    dct.check_codable(16, 16, "segmentation")  # the patch code sends any whole block
    with pytest.raises(ValueError, match="too small for reconstruction's DCT code.*at least 64x16 pixels"):
        dct.check_codable(16, 48, "reconstruction")
    plain = dct.replace(**{"encoder.dct_side_info": "plain"})  # a bit per chunk and 8 per variance: 80x16
    plain.check_codable(16, 80, "reconstruction")
    with pytest.raises(ValueError, match="at least 80x16 pixels"):
        plain.check_codable(16, 64, "reconstruction")
    with pytest.raises(ValueError, match="unknown DCT side information code 'huffman': plain or compact"):
        dct.replace(**{"encoder.dct_side_info": "huffman"})
    with pytest.raises(ValueError, match="unknown DCT power allocation 'optimal': softcast or mmse"):
        dct.replace(**{"encoder.dct_allocation": "optimal"})
    with pytest.raises(ValueError, match="groups of a power of two, not 48"):
        dct.replace(**{"encoder.dct_spread": 48})
