"""Class colours: each data set's own map."""

import numpy as np

from shared.classes import CAMVID_CLASSES, class_colours, colourise, legend


def test_camvid_draws_sky_grey_and_road_purple_voc_keeps_its_map():
    colours = class_colours(len(CAMVID_CLASSES))
    assert colours[CAMVID_CLASSES.index("sky")] == (128, 128, 128)
    assert colours[CAMVID_CLASSES.index("road")] == (128, 64, 128)
    assert len(set(colours)) == 11
    voc = class_colours(21)
    assert voc[0] == (0, 0, 0) and voc[15] == (192, 128, 128) and len(set(voc)) == 21


def test_void_is_black_and_the_legend_has_a_row_per_class():
    out = colourise(np.array([[0, 11, 200]]), 11)
    assert out[0, 0].tolist() == [128, 128, 128] and out[0, 1].tolist() == [0, 0, 0] == out[0, 2].tolist()
    img = legend(CAMVID_CLASSES)
    assert img.height >= 11 * 18 and img.getpixel((10, 4 + 18 * 3 + 9)) == (128, 64, 128)
