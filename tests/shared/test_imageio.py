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


# --- every mode Pillow opens becomes the 8-bit RGB a viewer shows -------------------------------------------------

from hypothesis import given, strategies as st  # noqa: E402
import numpy as np  # noqa: E402
from PIL import ImageOps  # noqa: E402

from shared.imageio import open_rgb, rgb8  # noqa: E402

# mode -> (the grey level 0..1 a pixel value v of that mode stands for, how to build the mode from an 8-bit grey)
_GREY_MODES = {
    "L": lambda g: Image.fromarray(g, "L"),
    "I;16": lambda g: Image.fromarray(g.astype(np.uint16) * 257),
    "I": lambda g: Image.fromarray(g.astype(np.int32) * 257, "I"),
    "F": lambda g: Image.fromarray(g.astype(np.float32) / 255.0, "F"),
    "P": lambda g: Image.fromarray(g, "L").convert("P"),  # a greyscale palette holds every level exactly
    "LA": lambda g: Image.fromarray(np.stack([g, np.full_like(g, 255)], -1), "LA"),
    "RGBA": lambda g: Image.fromarray(np.stack([g, g, g, np.full_like(g, 255)], -1), "RGBA"),
    "CMYK": lambda g: Image.fromarray(np.stack([g, g, g], -1), "RGB").convert("CMYK"),
    "1": lambda g: Image.fromarray(g >= 128),
}


@pytest.mark.parametrize("mode", sorted(_GREY_MODES))
@given(levels=st.lists(st.integers(0, 255), min_size=1, max_size=64))
def test_every_mode_keeps_its_grey_levels(mode, levels):
    """Opaque greys of any depth or kind come out as the same 8-bit grey in all three channels (16-bit PNGs were
    clipped to white by Pillow's own convert)."""
    g = np.array(levels, dtype=np.uint8).reshape(1, -1)
    out = np.asarray(rgb8(_GREY_MODES[mode](g)))
    want = np.where(g >= 128, 255, 0) if mode == "1" else g
    assert out.dtype == np.uint8 and out.shape == (1, g.shape[1], 3)
    assert np.abs(out.astype(int) - want[..., None]).max() <= 1, (mode, out[0, :4], want[0, :4])


@pytest.mark.parametrize("mode, fmt", [("I;16", "PNG"), ("L", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("RGBA", "PNG"),
                                       ("1", "PNG"), ("CMYK", "JPEG"), ("L", "JPEG")])
def test_files_of_every_mode_decode_as_they_look(mode, fmt):
    """What a client sends, through the services' decoder and the client's own reader alike: a 16-bit PNG's
    mid grey stays mid grey (it came back white, mean 252.9, and was scored 37.8 dB against itself)."""
    g = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))
    buf = io.BytesIO()
    _GREY_MODES[mode](g).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    data = buf.getvalue()
    served, local = np.asarray(decode_image(data, **CAPS)), np.asarray(open_rgb(data))
    assert (served == local).all()  # the client's PSNR reference is what the transmitter encoded
    want = np.where(g >= 128, 255, 0) if mode == "1" else g
    tol = 6 if fmt == "JPEG" else 1
    assert np.abs(served.astype(int) - want[..., None]).mean() <= tol


def test_transparency_is_composited_over_white():
    half = Image.new("LA", (2, 2), (0, 128))  # black at half opacity
    assert rgb8(half).getpixel((0, 0)) == (127, 127, 127)
    assert rgb8(Image.new("RGBA", (2, 2), (10, 20, 30, 0))).getpixel((0, 0)) == (255, 255, 255)


def test_a_float_image_that_is_not_finite_is_refused():
    arr = np.zeros((2, 2), np.float32)
    arr[0, 0] = np.nan
    with pytest.raises(ImageRejected, match="NaN or infinite"):
        rgb8(Image.fromarray(arr, "F"))


@pytest.mark.parametrize("orientation, size", [(1, (60, 40)), (3, (60, 40)), (6, (40, 60)), (8, (40, 60))])
def test_exif_orientation_is_applied(orientation, size):
    """A phone's portrait JPEG is stored landscape with orientation 6 or 8: it must arrive upright, for the
    transmitter and the client's reference alike."""
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:20, :30] = 255  # a white quarter marks the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=95, exif=exif)
    data = buf.getvalue()
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    for img in (decode_image(data, **CAPS), open_rgb(data)):
        assert img.size == size
        assert np.abs(np.asarray(img).astype(int) - want).max() <= 1
