"""The whole chain in one process: task negotiation -> transmitter -> channel -> receiver.

This is the code path the services call step by step; training and evaluation use
the same modules (``Transmitter``, ``shared.channel``, ``Receiver``).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from channel.step import ChannelResult, transmit
from receiver import step as rx_step
from receiver.model import Receiver
from shared import tasks
from shared.channel import ChannelSpec
from shared.config import ModelConfig
from shared.devices import pick_device
from shared.task_kb import TaskKB, TaskMatch, check_agreement
from shared.transmission import Transmission
from shared.weights import load_modules, read_config, resolve_weights, starting_pca
from transmitter import step as tx_step
from transmitter.model import Transmitter


@dataclass
class PipelineResult:
    task: str
    score: float
    channel_uses: int
    cbr: float
    snr_db: float
    realised_snr_db: float
    output: torch.Tensor  # reconstruction: (3, H, W) in [0, 1]; segmentation: (H, W) long class indices
    class_names: tuple[str, ...]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


class Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def load_models(cfg: ModelConfig | None = None, weights: str | Path | None = None,
                device: torch.device | str | None = None) -> tuple[ModelConfig, Transmitter, Receiver]:
    """Builds both sides from a config (or from the config saved beside `weights`) and loads the weights."""
    if weights is not None and cfg is None:
        cfg, _ = read_config(weights)
    if cfg is None:
        raise ValueError("need a config or a weights directory")
    device = pick_device(device)
    pca = starting_pca(cfg) if weights is None else None  # untrained: the linear path is the linear code
    tx, rx = Transmitter(cfg, pca), Receiver(cfg, pca)
    if weights is not None:
        load_modules(weights, {"transmitter": tx, "receiver": rx})
    return cfg, tx.to(device).eval(), rx.to(device).eval()


class Pipeline:
    """Image + task request + channel settings + seed -> negotiated task, symbols spent, receiver output."""

    def __init__(self, cfg: ModelConfig, transmitter: Transmitter, receiver: Receiver,
                 tx_kb: TaskKB, rx_kb: TaskKB) -> None:
        self.cfg = cfg
        self.transmitter = transmitter
        self.receiver = receiver
        self.tx_kb = tx_kb
        self.rx_kb = rx_kb
        self.device = next(transmitter.parameters()).device

    @classmethod
    def load(cls, preset: str = "cpu", weights: str | Path | None = "default",
             device: torch.device | str | None = None, task_kb: TaskKB | None = None) -> "Pipeline":
        """`weights="default"` takes the shipped weights of `preset` when there are any, else untrained."""
        cfg, path = resolve_weights(preset, weights)
        cfg, tx, rx = load_models(cfg, path, device)
        kb = task_kb if task_kb is not None else TaskKB()
        return cls(cfg, tx, rx, kb, kb)

    def negotiate(self, request: str) -> TaskMatch:
        tx, rx = self.tx_kb.match(request), self.rx_kb.match(request)
        check_agreement(tx, rx, self.tx_kb.fingerprint, self.rx_kb.fingerprint)
        return tx

    @torch.no_grad()
    def run(self, image: torch.Tensor, request: str, channel: ChannelSpec = ChannelSpec(), seed: int = 0,
            steps: int | None = None) -> PipelineResult:
        """image (3, H, W) in [0, 1]; returns the receiver's output for the negotiated task."""
        channel.validate()
        timer = Timer()
        with timer.stage("negotiate"):
            match = self.negotiate(request)
        output, t, rx = run_chain(self.transmitter, self.receiver, image, match.task, channel, seed, steps, timer)
        return PipelineResult(task=match.task, score=match.score, channel_uses=t.channel_uses, cbr=t.cbr,
                              snr_db=channel.snr_db, realised_snr_db=float(rx.realised_snr_db[0]),
                              output=output.cpu(), class_names=self.cfg.seg.class_names, timings=timer.timings)


@torch.no_grad()
def run_chain(transmitter: Transmitter, receiver: Receiver, image: torch.Tensor, task: str, channel: ChannelSpec,
              seed: int, steps: int | None = None, timer: Timer | None = None
              ) -> tuple[torch.Tensor, Transmission, ChannelResult]:
    """One image (3, H, W) through the three steps the services run one by one: transmitter.step.encode,
    channel.step.transmit, receiver.step.decode. Returns the output, the transmission and the channel's result."""
    timer = timer or Timer()
    with timer.stage("encode"):
        t, x = tx_step.encode(transmitter, image, task, channel, seed, steps or 0)
    with timer.stage("channel"):
        rx = transmit(x[None], t.channel, t.seed)
    with timer.stage("decode"):
        output = rx_step.decode(receiver, t, rx.y[0], None if rx.h is None else rx.h[0], float(rx.noise_var[0]))
    return output, t, rx


def chain_runner(tx: Transmitter, rx: Receiver, task: str, steps: int | None = None):
    """The proposed system for one task as the evaluation loop calls it: (image (3, H, W), ChannelSpec, seed) ->
    the task's output (an image (3, H, W) or a label map (H, W)), through `run_chain`."""
    tasks.get(task)  # ValueError naming the known tasks
    device = next(tx.parameters()).device

    def run(img: torch.Tensor, spec: ChannelSpec, seed: int) -> torch.Tensor:
        return run_chain(tx, rx, img.to(device), task, spec, seed, steps)[0].cpu()

    return run
