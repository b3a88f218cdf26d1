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
from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:  # torch is imported where tensors are made, so clients that only open images stay light
    import torch

ALLOWED_FORMATS = ("PNG", "JPEG")


class ImageRejected(ValueError):
    """The bytes are not an acceptable image. `too_large` tells a size cap from a format problem."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def decode_image(data: bytes, max_bytes: int, max_pixels: int, max_side: int) -> Image.Image:
    """PNG/JPEG bytes -> RGB PIL image, or ImageRejected with a message a person can act on."""
    if not data:
        raise ImageRejected("empty image: send the bytes of a PNG or JPEG file")
    if len(data) > max_bytes:
        raise ImageRejected(f"image is {len(data)} bytes, over the {max_bytes}-byte cap", too_large=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
            width, height = img.size
            if width * height > max_pixels or max(width, height) > max_side:
                raise ImageRejected(
                    f"image is {width}x{height} pixels, over the cap ({max_side} px per side, {max_pixels} pixels)",
                    too_large=True,
                )
            if width < 1 or height < 1:
                raise ImageRejected(f"image has no pixels ({width}x{height})")
            img.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"image refused as a decompression bomb: {exc}", too_large=True) from None
    except UnidentifiedImageError:
        raise ImageRejected(f"not a supported image: send PNG or JPEG bytes (allowed formats: "
                            f"{', '.join(ALLOWED_FORMATS)})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"image could not be decoded (truncated or corrupt?): {exc}") from None
    return img.convert("RGB")


def open_rgb(source: bytes | str | Path) -> Image.Image:
    """A trusted image (a local file, or bytes this project made) -> RGB PIL image. Bytes from a client go
    through ``decode_image`` and its caps instead."""
    img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    return img.convert("RGB")


def to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (3, H, W) float32 in [0, 1]."""
    import torch

    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
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
