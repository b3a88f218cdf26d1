"""Image decoding with limits, and tensor <-> image conversions.

Untrusted bytes are checked before any pixel is decoded: size in bytes, an
allow-listed format, and width*height against the pixel cap (decompression
bombs are refused on the header alone; Pillow's bomb warning is an error).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import Refused, TooLarge

if TYPE_CHECKING:  # torch is imported where tensors are made, so clients that only open images stay light
    import torch

ALLOWED_FORMATS = ("PNG", "JPEG")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")  # the file names of those formats, where folders are read


class ImageRejected(Refused):
    """The bytes are not an acceptable image (INVALID_ARGUMENT); ``ImageTooLarge`` for a size cap."""

    too_large = False


class ImageTooLarge(ImageRejected, TooLarge):
    """An image over the byte, pixel or side cap (RESOURCE_EXHAUSTED)."""

    too_large = True


def decode_image(data: bytes, max_bytes: int, max_pixels: int, max_side: int) -> Image.Image:
    """PNG/JPEG bytes -> RGB PIL image, or ImageRejected with a message a person can act on."""
    if not data:
        raise ImageRejected("empty image: send the bytes of a PNG or JPEG file")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"image is {len(data)} bytes, over the {max_bytes}-byte cap", max_bytes=max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
            width, height = img.size
            if width * height > max_pixels or max(width, height) > max_side:
                raise ImageTooLarge(
                    f"image is {width}x{height} pixels, over the cap ({max_side} px per side, {max_pixels} pixels)",
                    max_side=max_side, max_pixels=max_pixels)
            if width < 1 or height < 1:
                raise ImageRejected(f"image has no pixels ({width}x{height})")
            img.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"image refused as a decompression bomb: {exc}", max_pixels=max_pixels) from None
    except UnidentifiedImageError:
        raise ImageRejected(f"not a supported image: send PNG or JPEG bytes (allowed formats: "
                            f"{', '.join(ALLOWED_FORMATS)})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"image could not be decoded (truncated or corrupt?): {exc}") from None
    return rgb8(img)


def open_rgb(source: bytes | str | Path) -> Image.Image:
    """A trusted image (a local file, or bytes this project made) -> RGB PIL image. Bytes from a client go
    through ``decode_image`` and its caps instead."""
    img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    return rgb8(img)


# integer modes wider than 8 bits: Pillow opens 16-bit greyscale PNGs as I;16 (older releases as I), and its own
# convert("RGB") clips them at 255 instead of scaling, which turns an ordinary 16-bit image white
_WIDE = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


def rgb8(img: Image.Image) -> Image.Image:
    """Any image Pillow opens -> 8-bit RGB as a viewer shows it, the one conversion every reader uses.

    The EXIF orientation is applied (a phone's portrait photo arrives upright); 16-bit and 32-bit integer
    greyscale is scaled from 0..65535 to 0..255; float greyscale (F) is taken as 0..1 when it stays within it,
    else as 0..255 (Pillow's own convention), and must be finite; transparency is composited over white, as a
    page shows it; palette, bilevel, CMYK, YCbCr, LAB and HSV are converted by Pillow."""
    img = ImageOps.exif_transpose(img)
    if img.mode in _WIDE:
        arr = np.asarray(img).astype(np.float64)
        grey = np.clip(np.rint(arr * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ImageRejected("a float image with NaN or infinite pixels has no 8-bit rendering")
        scale = 255.0 if arr.size and arr.min() >= 0.0 and arr.max() <= 1.0 else 1.0
        grey = np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if img.mode in _ALPHA or (img.mode == "P" and "transparency" in img.info):
        rgba = (img.convert("LA") if img.mode == "La" else img).convert("RGBA")  # La (premultiplied) has one way out
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (3, H, W) float32 in [0, 1]."""
    import torch

    arr = np.asarray(img if img.mode == "RGB" else rgb8(img), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) float in [0, 1] -> RGB PIL image (rounded to 8 bits)."""
    arr = image.detach().clamp(0, 1).mul(255.0).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr, mode="RGB")


RESULT_PNG_LEVEL = 1  # zlib level of the PNGs results carry: at 768x512, ~6x faster than Pillow's 6, ~10 % larger


def encode_png(img: Image.Image, level: int = RESULT_PNG_LEVEL) -> bytes:
    """Lossless PNG bytes. Level 1 because a result is encoded once per transmission on the receiver's
    critical path and read once on loopback or a LAN, where a few more bytes cost less than the time."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=level)
    return buf.getvalue()
