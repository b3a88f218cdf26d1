"""Random and mutated bytes at the image decoder: each gets an image or a clean ImageRejected, nothing else."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from shared.imageio import ImageRejected, decode_image
from tests.fuzzing import examples

CAPS = dict(max_bytes=1 << 20, max_pixels=256 * 256, max_side=256)


def _seed(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), (10, 120, 240)).save(buf, format=fmt)
    return buf.getvalue()


SEEDS = [_seed("PNG"), _seed("JPEG")]


def _check(data: bytes) -> None:
    try:
        img = decode_image(data, **CAPS)
    except ImageRejected as exc:
        assert str(exc)  # a message a person can act on
        return
    assert img.mode == "RGB" and img.width * img.height <= CAPS["max_pixels"]


@settings(max_examples=examples(300))
@given(st.binary(max_size=512))
def test_random_bytes(data):
    _check(data)


@settings(max_examples=examples(300))
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
       st.integers(0, 4096))
def test_mutated_images(seed, flips, cut):
    data = bytearray(seed)
    for pos, value in flips:
        data[pos % len(data)] = value
    _check(bytes(data[: max(1, len(data) - cut % len(data))]))
