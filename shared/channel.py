"""The wireless channel of the paper's eq. (1): y = h*x + n.

One implementation for training, evaluation, the in-process pipeline and the
channel service. Split as Sionna splits it: generate h, then apply y = h*x + n.

Conventions (the field's, see MISSION.md "a correct channel"):

* ``x`` is complex with unit average power per complex symbol, E|x|^2 = 1.
* ``n ~ CN(0, no)`` with ``no = 10^(-SNR_dB/10)``, split evenly between I and Q
  (variance no/2 each), so SNR = E|x|^2 / no.
* AWGN: h = 1.
* noiseless: h = 1, n = 0 (the decoders' upper bound); the SNR is then only the
  value the networks are told.
* Rayleigh block fading: h ~ CN(0, 1) (E|h|^2 = 1), constant over ``block_len``
  consecutive symbols of a transmission (``block_len = 0``: one h for the whole
  transmission, i.e. quasi-static). The SNR is the *average* SNR, E|h x|^2 / no.
* Rician block fading: h = sqrt(K/(K+1)) + sqrt(1/(K+1)) CN(0, 1), a line-of-sight
  part (phase 0) plus Rayleigh scatter, E|h|^2 = 1, blocks as for Rayleigh; K (``k_factor``,
  the linear ratio of line-of-sight to scattered power) 0 is Rayleigh, K -> inf is AWGN.
* Receiver knowledge of h: with ``csi=True`` the receiver is told h and equalises
  with the MMSE equaliser conj(h) y / (|h|^2 + no); with ``csi=False`` it gets the
  raw y and must cope (as WITT's and Deep JSCC's fading experiments do).

Everything is differentiable in ``x``; all randomness comes from the
``torch.Generator`` passed in, so a request's seed fixes its channel realisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from shared import ofdm
from shared.lazy import LazyTorch
from shared.symbols import complex_normal

torch = LazyTorch(globals())  # txclient reads the model table (its flags) without loading torch

SNR_RANGE_DB: tuple[float, float] = (-10.0, 40.0)  # what the services accept
CSI_MODES = ("perfect", "estimated", "none")  # what the receiver knows of h
MAX_SYMBOLS = 1 << 26  # 64 M complex symbols (512 MiB): the longest transmission a service accepts


@dataclass(frozen=True)
class ChannelParam:
    """A number a channel model takes besides SNR and block length (``--k-factor`` for ``k_factor``)."""

    name: str
    default: float
    lo: float
    hi: float
    help: str
    integer: bool = False  # a count (FFT size, samples): whole numbers only
    choices: tuple[float, ...] = ()  # when only these values are allowed (e.g. 3GPP subcarrier spacings)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: float, model: str) -> None:
        """ValueError unless `value` is one this parameter takes."""
        if not (math.isfinite(value) and self.lo <= value <= self.hi):
            raise ValueError(f"{self.name} = {value} is outside the range [{self.lo:g}, {self.hi:g}] of the "
                             f"{model} channel ({self.help})")
        if self.integer and not float(value).is_integer():
            raise ValueError(f"{self.name} = {value:g} must be a whole number ({self.help})")
        if self.choices and value not in self.choices:
            raise ValueError(f"{self.name} = {value:g} must be one of {', '.join(f'{c:g}' for c in self.choices)} "
                             f"({self.help})")


@dataclass(frozen=True)
class ChannelModel:
    """One channel model: how its gains h are drawn (None: h = 1) and what it takes.

    A new model is one more entry in ``MODELS`` (and its line in the proto's documented values):
    the wire, the services, ``txclient``, ``semcom eval`` and ``semcom train`` take it from here.
    """

    name: str
    help: str
    gains: Callable[..., torch.Tensor] | None = None  # (batch, n, block_len, generator, device, **params) -> (B, n)
    params: tuple[ChannelParam, ...] = ()
    noisy: bool = True
    fading: bool = False  # h varies (training can draw it as its fading channel); block_len applies unless ofdm
    ofdm: bool = False  # symbols ride an OFDM resource grid (shared.ofdm): h varies by subcarrier and OFDM symbol
    check: Callable[[dict[str, float]], None] | None = None  # ValueError for parameters that do not fit together

    def param(self, name: str) -> ChannelParam:
        for prm in self.params:
            if prm.name == name:
                return prm
        takes = ", ".join(p.name for p in self.params) or "none"
        raise ValueError(f"channel model {self.name!r} takes no parameter {name!r} (it takes: {takes})")


@dataclass(frozen=True)
class ChannelSpec:
    """What a transmission asks of the channel."""

    model: str = "awgn"
    snr_db: float = 10.0
    block_len: int = 0  # fading coherence, in symbols; 0 = one h per transmission
    csi: str = "perfect"  # what the receiver knows of h: perfect, estimated (from pilots) or none; True/False too
    params: tuple[tuple[str, float], ...] = ()  # the model's own parameters, (name, value) sorted by name

    def __post_init__(self) -> None:
        if isinstance(self.csi, bool):  # the old flag: told h or not
            object.__setattr__(self, "csi", "perfect" if self.csi else "none")

    @staticmethod
    def of(model: str = "awgn", snr_db: float = 10.0, block_len: int = 0, csi: bool | str = "perfect",
           **params: float) -> "ChannelSpec":
        """ChannelSpec.of("rician", 10.0, 64, k_factor=3.0): parameters by keyword (None = the default)."""
        kept = tuple(sorted((k, float(v)) for k, v in params.items() if v is not None))
        return ChannelSpec(model, snr_db, block_len, csi, kept)

    @property
    def knows_h(self) -> bool:
        """Whether the receiver has channel knowledge (exact or estimated) and equalises with it."""
        return self.csi != "none"

    @property
    def channel_model(self) -> ChannelModel:
        if self.model not in MODELS:
            raise ValueError(f"unknown channel model {self.model!r}; known models: {', '.join(MODELS)}")
        return MODELS[self.model]

    @property
    def gains_on_wire(self) -> bool:
        """Whether the channel sends the receiver what it knows of h: the estimate whenever it is estimated,
        the exact gains on a fading model. A model without fading has h = 1 by definition, which the receiver
        knows without 8 bytes per symbol on the wire."""
        return self.csi == "estimated" or (self.csi == "perfect" and self.channel_model.gains is not None)

    def param_values(self) -> dict[str, float]:
        """Every parameter of the model: the given value, else its default."""
        given = dict(self.params)
        return {p.name: given.get(p.name, p.default) for p in self.channel_model.params}

    def validate(self) -> "ChannelSpec":
        model = self.channel_model
        lo, hi = SNR_RANGE_DB
        if not (math.isfinite(self.snr_db) and lo <= self.snr_db <= hi):
            raise ValueError(f"SNR {self.snr_db} dB is outside the supported range [{lo:g}, {hi:g}] dB")
        if self.csi not in CSI_MODES:
            raise ValueError(f"channel knowledge (csi) {self.csi!r} is not one of {', '.join(CSI_MODES)}")
        if not 0 <= self.block_len <= MAX_SYMBOLS:
            raise ValueError(f"block length must be 0 to {MAX_SYMBOLS} symbols (0 = one block for the whole "
                             f"transmission), got {self.block_len}")
        names = [k for k, _ in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"channel parameter given twice: {', '.join(names)}")
        for name, value in self.params:
            model.param(name).check(value, self.model)
        if model.ofdm and self.block_len:
            raise ValueError(f"block length does not apply to the {self.model} channel: it varies over subcarriers "
                             "and OFDM symbols through its delay profile and Doppler; leave it 0")
        if model.check is not None:
            model.check(self.param_values())
        return self


@dataclass
class ChannelOutput:
    """What one use of the channel gives, in natural units (no dB)."""

    y: torch.Tensor  # (B, n) complex, received symbols (not equalised)
    h: torch.Tensor  # (B, n) complex, the true channel gain per symbol
    noise_var: torch.Tensor  # (B,) real, no per symbol
    realised_snr_db: torch.Tensor  # (B,) real, 10 log10(|h x|^2 / |n|^2) measured on this realisation
    known: torch.Tensor | None = None  # (B, n) what the receiver knows of h: h, its estimate, or None (no CSI)
    err_var: torch.Tensor | None = None  # (B, n) the estimate's error variance (estimated CSI; else None)
    pilot_uses: int = 0  # channel uses spent on pilots, beside the n data symbols


def snr_db_to_noise_var(snr_db: torch.Tensor | float) -> torch.Tensor:
    """no = 10^(-SNR/10) for unit-power symbols."""
    snr_db = torch.as_tensor(snr_db, dtype=torch.float32)
    return torch.pow(10.0, -snr_db / 10.0)


def rayleigh_gains(batch: int, n: int, block_len: int, generator: torch.Generator | None,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """Block-fading gains (B, n), h ~ CN(0, 1) constant over `block_len` symbols (0 = whole row)."""
    block = n if block_len <= 0 else min(block_len, n)  # a block longer than the row is the whole row
    n_blocks = math.ceil(n / block)
    h_blocks = complex_normal((batch, n_blocks), generator, device)  # (B, n_blocks)
    return h_blocks.repeat_interleave(block, dim=1)[:, :n]  # (B, n)


def rician_gains(batch: int, n: int, block_len: int, generator: torch.Generator | None,
                 device: torch.device | str = "cpu", k_factor: float = 3.0) -> torch.Tensor:
    """Rician block-fading gains (B, n): sqrt(K/(K+1)) (line of sight, phase 0) + sqrt(1/(K+1)) CN(0, 1)
    (scatter), constant over `block_len` symbols; E|h|^2 = 1 for every K."""
    scatter = rayleigh_gains(batch, n, block_len, generator, device)
    return math.sqrt(k_factor / (k_factor + 1.0)) + math.sqrt(1.0 / (k_factor + 1.0)) * scatter


TDL_PARAMS = (
    ChannelParam("delay_spread_ns", 300.0, 1.0, 5000.0, "RMS delay spread the TDL profile is scaled to, ns"),
    ChannelParam("speed_kmh", 3.0, 0.0, 500.0, "the receiver's speed, km/h (Doppler f_D = v f_c / c)"),
    ChannelParam("carrier_ghz", 3.5, 0.5, 100.0, "carrier frequency, GHz"),
    ChannelParam("subcarrier_spacing_khz", 30.0, 15.0, 240.0, "OFDM subcarrier spacing, kHz (5G numerologies)",
                 choices=(15.0, 30.0, 60.0, 120.0, 240.0)),
    ChannelParam("fft_size", 256.0, 64.0, 4096.0, "OFDM subcarriers", integer=True,
                 choices=(64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0)),
    ChannelParam("cp_len", 0.0, 0.0, 4096.0, "cyclic prefix, samples (0: the shortest that covers the profile; "
                 "a shorter one than the last tap is refused)", integer=True),
)


def _tdl(profile: str):
    """TDL-`profile` gains, importing the OFDM module (and Sionna) only when the model is used."""
    def gains(*args, **params):
        return ofdm.tdl_gains(profile)(*args, **params)
    return gains


def _tdl_check(profile: str):
    def check(values: dict[str, float]) -> None:
        ofdm.Numerology.of(profile, values).check()
    return check


MODELS: dict[str, ChannelModel] = {m.name: m for m in (
    ChannelModel("awgn", "additive white Gaussian noise, h = 1"),
    ChannelModel("rayleigh", "Rayleigh block fading, h ~ CN(0, 1) per block", gains=rayleigh_gains, fading=True),
    ChannelModel("rician", "Rician block fading: a line-of-sight part plus Rayleigh scatter, E|h|^2 = 1",
                 gains=rician_gains, fading=True,
                 params=(ChannelParam("k_factor", 3.0, 0.0, 1e6,
                                      "Rician K: line-of-sight to scattered power, linear (0 = Rayleigh)"),)),
    ChannelModel("noiseless", "h = 1 and no noise: the decoders' upper bound", noisy=False),
    *(ChannelModel(f"tdl-{p.lower()}", f"OFDM over 3GPP TR 38.901 TDL-{p} multipath "
                   f"({'line of sight' if p in 'DE' else 'no line of sight'}), Doppler from the receiver's speed",
                   gains=_tdl(p), fading=True, ofdm=True, params=TDL_PARAMS, check=_tdl_check(p))
      for p in ("A", "B", "C", "D", "E")),
)}
CHANNEL_MODELS: tuple[str, ...] = tuple(MODELS)


def model_names(noisy: bool = False, fading: bool = False) -> list[str]:
    """The models in the table now (what the CLIs offer): all, only those with noise, or only fading ones."""
    return [m.name for m in MODELS.values() if (m.noisy or not noisy) and (m.fading or not fading)]

FADING_MODELS: tuple[str, ...] = tuple(m.name for m in MODELS.values() if m.fading)


class Channel:
    """y = h*x + n for a batch of complex symbol rows (per-sample SNR allowed: training), and what the receiver
    learns of h: nothing, h itself, or an estimate from pilots (block fading: one unit pilot per block, its LS
    estimate h + n; OFDM: the grid's comb pilots, LS and linear interpolation, ``shared.ofdm.estimate``). The
    pilots' noise is drawn after the data's, so the same seed gives the same y whatever the receiver knows."""

    def __init__(self, model: str = "awgn", block_len: int = 0, csi: str | bool = "perfect", **params: float) -> None:
        self.spec = ChannelSpec.of(model, 0.0, block_len, csi, **params).validate()
        self.model = model
        self.block_len = block_len
        self.csi = self.spec.csi
        self._model = self.spec.channel_model
        self._params = self.spec.param_values()

    @staticmethod
    def of(spec: ChannelSpec) -> "Channel":
        """The channel a transmission's spec asks for (its SNR is given per call)."""
        return Channel(spec.model, spec.block_len, spec.csi, **dict(spec.params))

    def _grid(self, n: int):
        num = ofdm.Numerology.of(self.model.split("-")[1].upper(), self._params)
        return num, ofdm.ResourceGrid(num.fft_size, n)

    def gains(self, batch: int, n: int, generator: torch.Generator | None, device) -> torch.Tensor:
        if self._model.gains is None:
            return torch.ones(batch, n, dtype=torch.complex64, device=device)
        return self._model.gains(batch, n, self.block_len, generator, device, **self._params)

    def blocks(self, n: int) -> int:
        """Fading blocks of a row of n symbols (one for a model without fading)."""
        if self._model.gains is None or self.block_len <= 0:
            return 1
        return math.ceil(n / min(self.block_len, n))

    def pilot_uses(self, n: int) -> int:
        """Channel uses spent on pilots beside n data symbols: an OFDM grid always carries its pilots (the data
        layout and the count do not depend on what the receiver does with them); a single-carrier channel sends
        one per fading block when the receiver estimates h, none otherwise."""
        if self._model.ofdm:
            return self._grid(n)[1].pilot_uses
        return self.blocks(n) if self.csi == "estimated" else 0

    def error_var(self, n: int, noise_var: torch.Tensor) -> torch.Tensor | None:
        """The variance of the receiver's estimate of h on each of n symbols (B, n), from the pilot pattern and
        the noise variance alone (what a receiver computes too); None unless h is estimated."""
        if self.csi != "estimated":
            return None
        if self._model.ofdm:

            num, grid = self._grid(n)
            return ofdm.error_var(grid, num.cyclic_prefix, noise_var)
        return noise_var[:, None].expand(-1, n).contiguous()

    def __call__(self, x: torch.Tensor, snr_db: torch.Tensor | float,
                 generator: torch.Generator | None = None) -> ChannelOutput:
        """x: (B, n) complex64 -> ChannelOutput. snr_db: scalar or (B,)."""
        if not torch.is_complex(x):
            raise TypeError("channel input must be a complex tensor (B, n)")
        b, n = x.shape
        no = snr_db_to_noise_var(snr_db).to(x.device).expand(b).contiguous()  # (B,)
        if self._model.ofdm:

            num, grid = self._grid(n)
            h_grid = ofdm.frequency_response(num, b, grid.ofdm_symbols, generator, x.device)
            h = h_grid.reshape(b, -1)[:, grid.data_index().to(x.device)]
        else:
            h = self.gains(b, n, generator, x.device)  # (B, n)
        if not self._model.noisy:
            no = torch.zeros_like(no)
        noise = complex_normal((b, n), generator, x.device, var=no[:, None])  # (B, n)
        hx = h * x  # (B, n)
        y = hx + noise
        with torch.no_grad():
            sig = hx.abs().pow(2).mean(dim=1)
            nse = noise.abs().pow(2).mean(dim=1).clamp_min(1e-20)
            realised = 10.0 * torch.log10(sig / nse)
        known, err = (h, None) if self.csi == "perfect" else (None, None)
        if self.csi == "estimated":
            if self._model.ofdm:

                known, err, _ = ofdm.estimate(h_grid, grid, no, generator, num.cyclic_prefix)
            else:  # one unit pilot at the head of each block, through the block's h: LS gives h + n
                block = n if self._model.gains is None or self.block_len <= 0 else min(self.block_len, n)
                nb = math.ceil(n / block)
                at_pilots = h[:, ::block][:, :nb]
                est = at_pilots + complex_normal(at_pilots.shape, generator, x.device, var=no[:, None])
                known = est.repeat_interleave(block, dim=1)[:, :n]
                err = no[:, None].expand(-1, n).contiguous()
        return ChannelOutput(y=y, h=h, noise_var=no, realised_snr_db=realised, known=known, err_var=err,
                             pilot_uses=self.pilot_uses(n))


def mmse_equalize(y: torch.Tensor, h: torch.Tensor, noise_var: torch.Tensor) -> torch.Tensor:
    """conj(h) y / (|h|^2 + no); y, h: (B, n) complex, noise_var: (B,) or (B, n)."""
    no = noise_var[:, None] if noise_var.dim() == 1 else noise_var
    return torch.conj(h) * y / (h.abs().pow(2) + no)


MAX_SNR = 10.0 ** (SNR_RANGE_DB[1] / 10.0)  # a symbol's SNR as the networks are told it tops out here


@dataclass
class Reception:
    """What the receiver's networks see of one transmission: the one receive path every system uses (the
    services, the in-process pipeline, training, baselines and benchmarks).

    With channel knowledge (exact or estimated) the symbols are LMMSE-equalised with it, conj(h) y /
    (|h|^2 + no + e) with e the estimate's error variance, and each symbol's SNR is its effective one,
    |h|^2 / (no + e); without, they are y itself and every symbol is told the nominal (average) SNR. A noiseless
    transmission is told its nominal SNR too: the value its decoder is asked to work at. SNRs are linear here;
    ``snr_db`` is computed once, for the networks' input."""

    symbols: torch.Tensor  # (B, n) complex
    snr: torch.Tensor  # (B, n) real, linear, at most MAX_SNR
    knows_h: bool
    # (B, n): the share of each symbol's noise that is the channel estimate's error, e / (no + e), for a unit-power
    # symbol (None: h exact or not known). A symbol of power P sees (no + e P) / |h|^2: a code whose symbols' power
    # differs from one (``shared.dct_code``) scales its noise by 1 - share + share P.
    estimate_share: torch.Tensor | None = None

    @property
    def snr_db(self) -> torch.Tensor:
        return 10.0 * torch.log10(self.snr)

    def unbiased(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(x estimates (B, n) complex, their noise variance per real value (B, n)): with channel knowledge the
        equalised symbols are s/(1+s) x + noise, so (1+s)/s of them leaves x plus noise of variance 1/s; without,
        y itself. The linear code's LMMSE estimate starts from these."""
        s = self.snr
        symbols = self.symbols * ((1.0 + s) / s) if self.knows_h else self.symbols
        return symbols, 0.5 / s


def receive(y: torch.Tensor, known: torch.Tensor | None, noise_var: torch.Tensor, nominal_snr_db,
            err_var: torch.Tensor | None = None) -> Reception:
    """y (B, n) complex, what the receiver knows of h (B, n) or None, the noise variance (B,), the nominal SNR
    (dB, scalar or (B,)) and the estimate's error variance (B, n) when h was estimated -> Reception."""
    b, n = y.shape
    nominal = torch.pow(10.0, torch.as_tensor(nominal_snr_db, dtype=torch.float32, device=y.device) / 10.0)
    nominal = nominal.expand(b)[:, None].expand(b, n).clamp(max=MAX_SNR)
    if known is None:
        return Reception(y, nominal.contiguous(), False)
    no = noise_var.to(y.device).float()[:, None].expand(b, n)
    share = None
    if err_var is not None:
        err = err_var.to(y.device).float()
        share = err / (no + err).clamp_min(1e-30)
        no = no + err
    gain = known.abs().pow(2)
    snr = (gain.clamp_min(1e-10) / no.clamp_min(1e-10)).clamp(max=MAX_SNR)
    snr = torch.where(no > 0, snr, nominal)
    # a noiseless symbol is equalised as at the SNR it is told, s/(1+s) x, like every symbol it is decoded beside:
    # so its unbiased view is x itself (equalised with no = 0 it was x, and the unbiased view (1+s)/s x, off by
    # 1/s: 5 % at 13 dB, which cost the linear codes' noiseless point up to 1.5 dB)
    no = torch.where(no > 0, no, gain / nominal)
    return Reception(torch.conj(known) * y / (gain + no), snr, True, share)
