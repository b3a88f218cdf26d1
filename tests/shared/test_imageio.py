import io

import pytest
from PIL import Image

from shared.imageio import ImageRejected, decode_image, encode_png, to_pil, to_tensor

CAPS = dict(max_bytes=1 << 20, max_pixels=512 * 512, max_side=512)


def _bytes(fmt: str, size=(40, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color=120 if mode == "L" else (200, 30, 10)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_decodes_allowed_formats(fmt):
    img = decode_image(_bytes(fmt), **CAPS)
    assert img.size == (40, 30) and img.mode == "RGB"


def test_greyscale_becomes_rgb():
    assert decode_image(_bytes("PNG", mode="L"), **CAPS).mode == "RGB"


@pytest.mark.parametrize("data,match", [
    (b"", "empty"),
    (b"hello, this is not an image", "not a supported image"),
    (_bytes("GIF"), "not a supported image"),
    (_bytes("BMP"), "not a supported image"),
    (_bytes("PNG", size=(200, 200))[:200], "truncated or corrupt"),
])
def test_rejects_bad_bytes(data, match):
    with pytest.raises(ImageRejected, match=match) as exc:
        decode_image(data, **CAPS)
    assert not exc.value.too_large


def test_pixel_cap_is_checked_on_the_header():
    big = _bytes("PNG", size=(600, 100))  # side over the cap
    with pytest.raises(ImageRejected, match="over the cap") as exc:
        decode_image(big, **CAPS)
    assert exc.value.too_large
    with pytest.raises(ImageRejected, match="byte cap"):
        decode_image(_bytes("PNG"), max_bytes=10, max_pixels=10**6, max_side=10**4)


def test_tensor_round_trip():
    img = decode_image(_bytes("PNG"), **CAPS)
    t = to_tensor(img)
    assert t.shape == (3, 30, 40) and 0 <= t.min() and t.max() <= 1
    assert to_pil(t).tobytes() == img.tobytes()
    assert encode_png(img).startswith(b"\x89PNG")
