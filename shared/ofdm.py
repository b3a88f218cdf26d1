"""OFDM over 3GPP TR 38.901 tapped-delay-line channels: the resource grid the JSCC symbols fill, the channel's
frequency response on it (Sionna's TDL model), and what a receiver learns of it from pilots.

The grid (the default pattern, the same for every CSI setting so that the data layout and the channel uses do
not depend on it):

* a slot is 14 OFDM symbols of ``fft_size`` subcarriers, ``subcarrier_spacing_khz`` apart; no guard bands, no
  DC null (a simulation of the link, not of a spectrum mask);
* OFDM symbols 2 and 11 of each slot carry pilots on the even subcarriers (0, 2, 4, ...) and data on the odd
  ones; the other 12 symbols carry data on every subcarrier: 13 ``fft_size`` data resource elements (REs) and
  ``fft_size`` pilot REs per slot (pilots cost 1/14 of the grid);
* a transmission of n JSCC symbols fills the data REs of as many slots as it needs, OFDM symbol after OFDM
  symbol, subcarriers in increasing order; the REs the last slot leaves empty carry nothing (and are not
  counted as channel uses: another user's).

The channel: Sionna's TDL model (profiles A to E, scaled to ``delay_spread_ns``; a receiver moving at
``speed_kmh``, Doppler f_D = v f_c / c through its sum-of-sinusoids model) gives each transmission its taps,
drawn from the transmission's generator, sampled once per OFDM symbol, and ``cir_to_ofdm_channel`` their
frequency response H on every RE (not renormalised per draw: E|H|^2 = 1 over draws, as the profiles' powers
sum to one). y = H x + n per RE is then the frequency-domain model of OFDM with a cyclic prefix at least as long
as the channel's last tap, which ``check`` demands: a shorter prefix (inter-symbol interference) is refused,
not simulated. Its default, 0, means the shortest prefix that covers the profile at this delay spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from shared.lazy import LazyTorch
from shared.symbols import complex_normal

torch = LazyTorch(globals())

SYMBOLS_PER_SLOT = 14
PILOT_SYMBOLS = (2, 11)  # OFDM symbols of a slot that carry pilots (on even subcarriers)
PROFILES = ("A", "B", "C", "D", "E")
SPEED_OF_LIGHT = 299_792_458.0


@dataclass(frozen=True)
class Numerology:
    """The OFDM parameters of a TDL channel model, from its ChannelSpec's parameter values."""

    profile: str
    delay_spread_ns: float
    speed_kmh: float
    carrier_ghz: float
    subcarrier_spacing_khz: float
    fft_size: int
    cp_len: int  # samples; 0 = the shortest that covers the profile

    @staticmethod
    def of(profile: str, values: dict[str, float]) -> "Numerology":
        return Numerology(profile, float(values["delay_spread_ns"]), float(values["speed_kmh"]),
                          float(values["carrier_ghz"]), float(values["subcarrier_spacing_khz"]),
                          int(values["fft_size"]), int(values["cp_len"]))

    @property
    def sample_rate_hz(self) -> float:
        return self.fft_size * self.subcarrier_spacing_khz * 1e3

    @property
    def min_cp_len(self) -> int:
        """The shortest cyclic prefix, in samples, that covers the profile's last tap at this delay spread."""
        return math.ceil(max_normalised_delay(self.profile) * self.delay_spread_ns * 1e-9 * self.sample_rate_hz
                         - 1e-9)

    @property
    def cyclic_prefix(self) -> int:
        return self.cp_len or self.min_cp_len

    @property
    def symbol_duration_s(self) -> float:
        """One OFDM symbol with its cyclic prefix."""
        return (self.fft_size + self.cyclic_prefix) / self.sample_rate_hz

    @property
    def max_doppler_hz(self) -> float:
        return self.speed_kmh / 3.6 * self.carrier_ghz * 1e9 / SPEED_OF_LIGHT

    def check(self) -> None:
        """ValueError when the grid cannot carry this channel: a prefix shorter than the channel's taps."""
        if self.cp_len and self.cp_len < self.min_cp_len:
            raise ValueError(
                f"a cyclic prefix of {self.cp_len} samples ({self.cp_len / self.sample_rate_hz * 1e9:.0f} ns) is "
                f"shorter than TDL-{self.profile}'s last tap at {self.delay_spread_ns:g} ns delay spread "
                f"({max_normalised_delay(self.profile) * self.delay_spread_ns:.0f} ns): inter-symbol interference "
                f"is not simulated, so it is refused; use cp_len >= {self.min_cp_len} (or 0, the shortest that "
                "covers it)")


@lru_cache(maxsize=None)
def max_normalised_delay(profile: str) -> float:
    """The last tap's delay of a TR 38.901 TDL profile, in units of its RMS delay spread (Sionna's tables)."""
    from sionna.phy.channel.tr38901 import TDL

    return float(TDL(profile, delay_spread=1e-9, carrier_frequency=3.5e9, device="cpu")._delays.max())


@dataclass(frozen=True)
class ResourceGrid:
    """Where n JSCC symbols go on the grid of `fft_size` subcarriers (the pattern of the module's docstring)."""

    fft_size: int
    n: int  # data symbols

    @property
    def data_per_slot(self) -> int:
        return (SYMBOLS_PER_SLOT - len(PILOT_SYMBOLS)) * self.fft_size + len(PILOT_SYMBOLS) * (self.fft_size // 2)

    @property
    def slots(self) -> int:
        return max(1, math.ceil(self.n / self.data_per_slot))

    @property
    def ofdm_symbols(self) -> int:
        return self.slots * SYMBOLS_PER_SLOT

    def _mask(self) -> "torch.Tensor":
        """(ofdm_symbols, fft_size) bool: True where a pilot is."""
        pilot = torch.zeros(self.ofdm_symbols, self.fft_size, dtype=torch.bool)
        for s in range(self.slots):
            for p in PILOT_SYMBOLS:
                pilot[s * SYMBOLS_PER_SLOT + p, 0::2] = True
        return pilot

    def data_index(self) -> "torch.Tensor":
        """(n,) flat indices (symbol * fft_size + subcarrier) of the data REs the n symbols take, in order."""
        return torch.nonzero(~self._mask().flatten()).squeeze(1)[: self.n]

    def pilot_index(self) -> "torch.Tensor":
        """Flat indices of every pilot RE of the slots the transmission uses."""
        return torch.nonzero(self._mask().flatten()).squeeze(1)

    @property
    def pilot_uses(self) -> int:
        return self.slots * len(PILOT_SYMBOLS) * (self.fft_size // 2)


def taps(num: Numerology, batch: int, ofdm_symbols: int, generator: "torch.Generator | None", device):
    """Sionna's TDL draw: path coefficients a (B, 1, 1, 1, 1, paths, ofdm_symbols) and delays tau (B, 1, 1, paths)
    in seconds, one draw per batch row from `generator`, sampled once per OFDM symbol."""
    from sionna.phy.channel.tr38901 import TDL

    device = torch.device(device)
    if generator is None:  # training without a generator of its own: draw a seed from torch's global state
        generator = torch.Generator(device=device).manual_seed(int(torch.randint(0, 2**62, (1,)).item()))

    class _Seeded(TDL):
        """Sionna's TDL drawing from this transmission's generator instead of Sionna's global one, so that a
        request's seed fixes its channel and concurrent transmissions never share random state."""

        @property
        def torch_rng(self):
            return generator

    speed = num.speed_kmh / 3.6
    tdl = _Seeded(num.profile, delay_spread=num.delay_spread_ns * 1e-9, carrier_frequency=num.carrier_ghz * 1e9,
                  min_speed=speed, max_speed=speed, device=str(device))
    return tdl(batch, ofdm_symbols, 1.0 / num.symbol_duration_s)


def frequency_response(num: Numerology, batch: int, ofdm_symbols: int, generator: "torch.Generator | None",
                       device) -> "torch.Tensor":
    """H (B, ofdm_symbols, fft_size) complex64: one TDL draw per batch row, from `generator`."""
    from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies

    a, tau = taps(num, batch, ofdm_symbols, generator, device)
    freqs = subcarrier_frequencies(num.fft_size, num.subcarrier_spacing_khz * 1e3, device=str(torch.device(device)))
    h = cir_to_ofdm_channel(freqs, a, tau, normalize=False)  # (B, rx, rx_ant, tx, tx_ant, symbols, fft)
    return h[:, 0, 0, 0, 0].to(torch.complex64)


def tdl_gains(profile: str):
    """The model table's gains function of TDL-`profile`: H on the n data REs, (B, n)."""

    def gains(batch: int, n: int, block_len: int, generator, device, **params: float) -> "torch.Tensor":
        num = Numerology.of(profile, params)
        grid = ResourceGrid(num.fft_size, n)
        h = frequency_response(num, batch, grid.ofdm_symbols, generator, device)
        return h.reshape(batch, -1)[:, grid.data_index().to(h.device)]

    return gains


def frequency_filter(grid: ResourceGrid, cp_len: int, noise_var: "torch.Tensor"
                     ) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    """The robust LMMSE interpolator across subcarriers (Edfors et al.): the channel's taps are taken to lie
    anywhere within the cyclic prefix with equal power (a shorter prefix is refused), which makes the correlation
    of H between subcarriers k apart r(k) = exp(-j pi k L / F) sinc(k L / F), L the prefix in samples and F the
    FFT size -- a receiver knows both, and the noise variance; not the profile.

    For each noise variance of `noise_var` (B,): W (B, F, M) from the M comb pilots' LS estimates to every
    subcarrier, W = R_kp (R_pp + N0 I)^-1, and the estimate's error variance per subcarrier split into its
    noise part N0 sum_j |W_kj|^2 (B, F) and the rest (B, F), what the filter cannot follow of a channel of that
    correlation (1 - Re sum_j W_kj conj(R_kj), less the noise part)."""
    f, m = grid.fft_size, grid.fft_size // 2
    length = max(cp_len, 1) / f
    k = torch.arange(f, dtype=torch.float64)
    p = k[0::2]

    def corr(d: "torch.Tensor") -> "torch.Tensor":
        return torch.exp(-1j * math.pi * d * length) * torch.sinc(d * length)

    r_pp = corr(p[:, None] - p[None, :])  # (M, M)
    r_kp = corr(k[:, None] - p[None, :])  # (F, M)
    no = noise_var.double().clamp_min(1e-6)  # a noiseless estimate still needs an invertible matrix
    a = r_pp[None] + no[:, None, None] * torch.eye(m, dtype=torch.float64)[None]
    w = torch.linalg.solve(a.transpose(1, 2).conj(), r_kp.conj().T[None].expand(len(no), -1, -1)) \
        .transpose(1, 2).conj()  # (B, F, M): r_kp a^-1
    noise = no[:, None] * w.abs().pow(2).sum(2)
    total = (1.0 - (w * r_kp.conj()[None]).sum(2).real).clamp_min(0.0)
    return w.to(torch.complex64), noise.float(), (total - noise).clamp_min(0.0).float()


def time_weights(grid: ResourceGrid) -> "torch.Tensor":
    """(ofdm_symbols, pilot_symbols): each OFDM symbol's estimate as a mix of the pilot symbols' -- linear between
    the two nearest, and before the first and after the last the nearest one's."""
    pilot_times = torch.tensor([s * SYMBOLS_PER_SLOT + p for s in range(grid.slots) for p in PILOT_SYMBOLS],
                               dtype=torch.float64)
    t = torch.arange(grid.ofdm_symbols, dtype=torch.float64)
    j = torch.searchsorted(pilot_times, t, right=True) - 1  # the pilot symbol at or before t (-1: none)
    lo, hi = j.clamp(0, len(pilot_times) - 1), (j + 1).clamp(0, len(pilot_times) - 1)
    span = (pilot_times[hi] - pilot_times[lo]).clamp_min(1.0)
    alpha = torch.where(hi == lo, torch.zeros_like(t), ((t - pilot_times[lo]) / span).clamp(0.0, 1.0))
    alpha = torch.where(j < 0, torch.zeros_like(alpha), alpha)  # before the first pilot symbol: the first
    w = torch.zeros(grid.ofdm_symbols, len(pilot_times), dtype=torch.float64)
    w[torch.arange(grid.ofdm_symbols), lo] += 1.0 - alpha
    w[torch.arange(grid.ofdm_symbols), hi] += alpha
    return w.float()


def pilot_values(h_grid: "torch.Tensor", grid: ResourceGrid) -> "torch.Tensor":
    """H at the pilot REs of a (B, ofdm_symbols, fft_size) response: (B, pilot_symbols, fft_size // 2)."""
    rows = [s * SYMBOLS_PER_SLOT + p for s in range(grid.slots) for p in PILOT_SYMBOLS]
    return h_grid[:, rows, 0::2]


def estimate(h_grid: "torch.Tensor", grid: ResourceGrid, noise_var: "torch.Tensor",
             generator: "torch.Generator | None", cp_len: int
             ) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    """What a receiver learns of H from the pilots: LS estimates at the pilot REs (unit-power pilots: H plus noise
    of the data's variance, drawn from `generator`), the robust LMMSE interpolator across subcarriers
    (``frequency_filter``) on each pilot symbol, then linear interpolation across OFDM symbols
    (``time_weights``).

    Returns the estimate on the n data REs (B, n), its error variance there (B, n, as ``error_var`` gives it),
    and the LS estimates at the pilots (B, pilot_symbols, fft_size // 2)."""

    b = h_grid.shape[0]
    at_pilots = pilot_values(h_grid, grid)
    ls = at_pilots + complex_normal(at_pilots.shape, generator, h_grid.device, var=noise_var.view(b, 1, 1))
    w, _, _ = frequency_filter(grid, cp_len, noise_var.cpu())
    full = torch.einsum("bkm,bpm->bpk", w.to(ls.device), ls)  # (B, pilot_symbols, F)
    h_hat = torch.einsum("tp,bpk->btk", time_weights(grid).to(ls.device, torch.complex64), full).reshape(b, -1)
    index = grid.data_index().to(ls.device)
    return h_hat[:, index], error_var(grid, cp_len, noise_var).to(ls.device), ls


def error_var(grid: ResourceGrid, cp_len: int, noise_var: "torch.Tensor") -> "torch.Tensor":
    """The estimate's error variance on each of the n data REs (B, n), from the pattern, the prefix and the noise
    variance alone (what a receiver computes too): on OFDM symbol t and subcarrier k, the interpolator's noise
    part times sum_p w_tp^2 (independent noise on each pilot symbol) plus the part it cannot follow (the same
    channel on every pilot symbol a slowly moving receiver sees)."""
    _, noise, model = frequency_filter(grid, cp_len, noise_var.cpu())  # (B, F) each
    mix = time_weights(grid).pow(2).sum(1)  # (ofdm_symbols,)
    err = noise[:, None, :] * mix[None, :, None] + model[:, None, :]  # (B, ofdm_symbols, F)
    return err.reshape(len(noise_var), -1)[:, grid.data_index()].to(noise_var.device)
