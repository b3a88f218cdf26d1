"""One image's trip through the chain as every step sees it: the wire's header in plain Python.

The transmitter's step makes it, the channel's step and the receiver's step read it, the services
turn it into and out of ``pb.TransmissionHeader`` (``shared.wire``) and the in-process pipeline
passes it along as it is. Settings are validated where they enter: ``Send`` and ``Pipeline.run`` for a
client's request, ``shared.wire.transmission_of`` for a header arriving at the channel or the receiver.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.channel import Channel, ChannelSpec
from shared.symbols import GridMeasures


@dataclass(frozen=True)
class Transmission(GridMeasures):
    id: str
    task: str  # the negotiated task
    channel: ChannelSpec
    seed: int  # fixes the channel realisation and the receiver's sampler
    grid: tuple[int, int, int]  # (c, h, w) complex symbol grid
    image_size: tuple[int, int]  # (H, W) of the original image
    steps: int = 0  # diffusion sampling steps; 0 = the receiver's default
    scale: float = 0.0  # the power scale: side information of the linear path (0 = none)
    # the linear code's per-image allocation: k ratios then k variances (k = 2c), or () when the
    # transmitter does not fit it to the image (``EncoderConfig.per_image_gains``)
    allocation: tuple[float, ...] = ()
    # the DCT code's side information for a task sent with it (``EncoderConfig.dct_tasks``,
    # ``shared.dct_code.DCTHeader.fields``): the planes' means, the sent chunks, their variance codes
    dct_means: tuple[float, ...] = ()
    dct_chunks: tuple[int, ...] = ()
    dct_codes: tuple[int, ...] = ()
    score: float = 0.0  # the task KB's similarity of the negotiated task
    kb_fingerprint: str = ""

    @property
    def pilot_uses(self) -> int:
        """Channel uses the channel's pilots take beside the data symbols (``Channel.pilot_uses``)."""

        return Channel.of(self.channel).pilot_uses(self.channel_uses)

    @property
    def cbr_with_pilots(self) -> float:
        return (self.channel_uses + self.pilot_uses) / (3 * self.image_size[0] * self.image_size[1])
