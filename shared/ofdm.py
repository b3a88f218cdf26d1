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


def interpolation(grid: ResourceGrid) -> tuple["torch.Tensor", "torch.Tensor"]:
    """The linear interpolation from the pilots' LS estimates to every RE of the transmission's slots.

    First across subcarriers on each pilot OFDM symbol (an odd subcarrier takes the mean of its two even
    neighbours; the last, with one neighbour, takes it), then across OFDM symbols between the two nearest pilot
    symbols (linear; before the first and after the last, the nearest one's). Returns the time weights
    (ofdm_symbols, pilot_symbols) and the frequency weights' noise gain per subcarrier (fft_size,): an estimate's
    noise variance on RE (t, k) is no * sum_p W[t, p]^2 * g[k], with no the noise variance at one pilot."""
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
    gain = torch.ones(grid.fft_size, dtype=torch.float64)
    gain[1:-1:2] = 0.5  # odd subcarriers with two pilot neighbours
    return w.float(), gain.float()


def pilot_values(h_grid: "torch.Tensor", grid: ResourceGrid) -> "torch.Tensor":
    """H at the pilot REs of a (B, ofdm_symbols, fft_size) response: (B, pilot_symbols, fft_size // 2)."""
    rows = [s * SYMBOLS_PER_SLOT + p for s in range(grid.slots) for p in PILOT_SYMBOLS]
    return h_grid[:, rows, 0::2]


def estimate(h_grid: "torch.Tensor", grid: ResourceGrid, noise_var: "torch.Tensor",
             generator: "torch.Generator | None") -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    """What a receiver learns of H from the pilots: LS estimates at the pilot REs (unit-power pilots, so H plus
    noise of the data's variance, drawn from `generator`), interpolated linearly (``interpolation``).

    Returns the estimate on the n data REs (B, n), its noise variance there (B, n), and the LS estimates at the
    pilots (B, pilot_symbols, fft_size // 2)."""
    from shared.channel import complex_normal

    b = h_grid.shape[0]
    at_pilots = pilot_values(h_grid, grid)
    ls = at_pilots + complex_normal(at_pilots.shape, generator, h_grid.device, var=noise_var.view(b, 1, 1))
    full = torch.zeros(b, ls.shape[1], grid.fft_size, dtype=ls.dtype, device=ls.device)
    full[:, :, 0::2] = ls
    full[:, :, 1:-1:2] = 0.5 * (ls[:, :, :-1] + ls[:, :, 1:])
    full[:, :, -1] = ls[:, :, -1]  # the last (odd) subcarrier: its one neighbour
    w, _ = interpolation(grid)
    h_hat = torch.einsum("tp,bpk->btk", w.to(ls.device, ls.dtype), full).reshape(b, -1)
    index = grid.data_index().to(ls.device)
    return h_hat[:, index], noise_var.view(b, 1) * error_gain(grid).to(ls.device)[None, :], ls


def error_gain(grid: ResourceGrid) -> "torch.Tensor":
    """The estimate's noise variance on each of the n data REs, in units of the noise variance at a pilot (n,):
    what a receiver computes from the pattern alone."""
    w, gain = interpolation(grid)
    return (w.pow(2).sum(1)[:, None] * gain[None, :]).reshape(-1)[grid.data_index()]
