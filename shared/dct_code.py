"""SoftCast's whole-frame DCT code (Jakubczak & Katabi, MobiCom 2011): both ends, as one object.

    image (3, H, W), H and W multiples of the chunk --orthonormal opponent-colour rotation, each plane less its mean-->
    planes --orthonormal 2-D DCT of the whole frame--> coefficients --cut into chunk x chunk chunks--> the chunks
    with the most energy in this image, as many as the channel uses allow beside the side information, each
    scaled by g ~ lambda^(-1/4) --> real values t (two per complex channel use)
    received values --per-chunk LMMSE with the chunk's variance--> chunks (the rest zero) --inverse--> image

The side information (``DCTHeader``: the planes' means as float16, which chunks were sent, each sent chunk's
variance quantised to `value_bits` bits on a log scale, which both ends use) is counted: its bits, at one bit per
channel use (a robust digital code, QPSK rate 1/2, assumed delivered), are taken from the channel uses before the
analog code gets the rest. ``side_info="plain"`` counts it as SoftCast sends it (a bit per chunk for the mask,
`value_bits` per variance); ``"compact"`` codes the set of sent chunks and the variances, which come strongest
first and so never increase, each as one enumerative index (``rank_subset``: ceil(log2 C(n, k)) and
ceil(log2 C(k + 2^value_bits - 1, k)) bits): a 768x512 image spends 3197 bits on it and sends 551 chunks,
where plain spends 8712 and sends 507. Sent with the image, the mean would be one huge DC coefficient taking a
large share of the power (and, with an estimated channel, of the estimation error). The system ``softcast-dct``
(``semcom.baselines.linear.SoftCastDCT``) sends images with it; ``scripts/linear_codes.py`` gives its expected
PSNR in closed form beside its relatives.

With ``spread`` > 1 the sent chunks are mixed before they are sent, as SoftCast's packets are: a normalised
Hadamard transform across groups of `spread` chunks (the weakest rest in groups of the powers of two their count
is made of), each group drawn across the chunks' ranking so that it mixes strong chunks with weak ones
(``groups``), then a fixed interleaver of the analog channel uses (``interleaver``). Every symbol then carries
about the same power and each chunk's energy lies on symbols all over the grid: under fading a chunk no longer
sits on a few faded symbols, and with an estimated channel, whose error grows with a symbol's power, no
symbol carries a strong chunk alone. The receiver's LMMSE is then one G x G solve per coefficient position of a
group. Over AWGN the code is the same in expectation (an orthogonal transform of white noise is white noise).

The proposed system sends the tasks of ``EncoderConfig.dct_tasks`` with it on its symbol grid
(``encode_grid``, ``decode_grid``): of the grid's c*h*w channel uses the first carry the analog values at unit
average power, the rest the side information (the header's ``dct_*`` fields carry its content, as if its digital
code had delivered it; the simulated stream holds zeros there) and the few uses too short for another chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from shared.analog import softcast_gains
from shared.config import DCT_ALLOCATIONS, DCT_SIDE_INFOS, EncoderConfig
from shared.symbols import unit_power

# an orthonormal colour rotation (luminance and two opponent colours), fixed: SoftCast codes luminance and
# chrominance planes apart, and an orthonormal one keeps the DCT domain's squared error the image's
OPPONENT = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]])
OPPONENT = OPPONENT / OPPONENT.norm(dim=1, keepdim=True)
MEAN_BITS = 3 * 16  # the three planes' means, sent as float16


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II of length n as a matrix (rows are the basis functions), float64."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    m = torch.cos(torch.pi * (2 * torch.arange(n, dtype=torch.float64)[None, :] + 1) * k / (2 * n)) * (2 / n) ** 0.5
    m[0] /= 2 ** 0.5
    return m


@dataclass
class DCTHeader:
    """What the receiver is told beside the symbols: the planes' means (3, 1, 1), the sent chunks' indices
    (sent,) in sending order, their quantised variances (sent,), and the coded frame's size."""

    means: torch.Tensor
    order: torch.Tensor
    variances: torch.Tensor
    size: tuple[int, int]
    snr_db: float | None = None  # the SNR it is sent at, which both ends know (the "mmse" allocation's gains need it)

    def codes(self) -> list[int]:
        """The sent chunks' variances as the integers their bits carry: log2 of the variance in quarters."""
        return [int(v) for v in torch.round(torch.log2(self.variances) * 4).tolist()]

    def fields(self) -> tuple[tuple[float, ...], tuple[int, ...], tuple[int, ...]]:
        """(means, chunk indices, variance codes): what the wire's header carries (``from_fields`` inverts)."""
        return (tuple(float(m) for m in self.means.flatten()), tuple(int(i) for i in self.order), tuple(self.codes()))


def hadamard(n: int) -> torch.Tensor:
    """The normalised Hadamard matrix of order n (a power of two; Sylvester's construction), symmetric and
    orthogonal, float64."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"a Hadamard transform of {n} chunks: use a power of two")
    h = torch.ones(1, 1, dtype=torch.float64)
    while len(h) < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / n ** 0.5


def interleaver(n: int) -> torch.Tensor:
    """A fixed permutation of n channel uses (the spread code's symbol i goes to use p[i]): i -> a i mod n with a
    the integer nearest n (sqrt(5) - 1) / 2 prime to n, so neighbouring symbols land far apart. Both ends compute
    it from n alone; long[n]."""
    a = max(1, round(n * (5 ** 0.5 - 1) / 2))
    while math.gcd(a, n) != 1:
        a += 1
    return (torch.arange(n, dtype=torch.long) * a) % n


def index_bits(count: int) -> int:
    """Bits of an index into `count` possibilities: ceil(log2 count) (0 for one)."""
    return (count - 1).bit_length()


def rank_subset(members: list[int]) -> int:
    """The k-subset of {0 .. n-1} (distinct integers) -> its index among all C(n, k) of them, from 0 (the
    combinatorial number system: sum of C(c_i, i + 1) over its members in increasing order). ``unrank_subset``
    inverts it; index_bits(C(n, k)) bits hold it."""
    return sum(math.comb(c, i + 1) for i, c in enumerate(sorted(members)))


def unrank_subset(rank: int, k: int) -> list[int]:
    """The index of a k-subset (``rank_subset``) -> its members, increasing."""
    out, top = [], k
    while math.comb(top, k) <= rank:  # an upper bound for the largest member
        top *= 2
    for i in range(k, 0, -1):
        lo, hi = i - 1, top  # the largest c with C(c, i) <= rank: C(lo, i) <= rank < C(hi, i)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if math.comb(mid, i) <= rank else (lo, mid)
        out.append(lo)
        rank -= math.comb(lo, i)
        top = lo  # members are distinct: the next is smaller
    return out[::-1]


def variance_subset(codes: list[int], value_bits: int) -> list[int]:
    """Non-increasing `value_bits`-bit codes (k of them) -> a k-subset of {0 .. k + 2^value_bits - 2} (stars and
    bars: the i-th smallest code, made non-negative, plus i), which ``rank_subset`` indexes; inverted by
    ``codes_of_subset``."""
    half = 2 ** (value_bits - 1)
    return [q + half + i for i, q in enumerate(sorted(codes))]


def codes_of_subset(members: list[int], value_bits: int) -> list[int]:
    """``variance_subset`` inverted: the codes, strongest (largest) first."""
    half = 2 ** (value_bits - 1)
    return sorted((c - i - half for i, c in enumerate(sorted(members))), reverse=True)


def mmse_gains(variances: torch.Tensor, snr_db: float) -> torch.Tensor:
    """The chunks' gains that minimise the LMMSE estimate's error at a known SNR (Lee & Petersen's linear
    allocation): each value of a chunk of variance lambda gets the power p = max(0, s sqrt(lambda) kappa - s^2), s^2
    the noise per real value at unit power per complex symbol, kappa such that the power is one per complex symbol on
    average, so g = sqrt(p / lambda). At high SNR p ~ sqrt(lambda), SoftCast's lambda^(-1/4) gains; at low SNR the
    weakest chunks get less, or nothing, and the strong ones the rest. float64, (sent,) -> (sent,)."""
    lam = variances.double().clamp_min(1e-30)
    s2 = 0.5 * 10.0 ** (-snr_db / 10.0)
    r, _ = torch.sort(lam.sqrt(), descending=True)
    k = torch.arange(1, len(r) + 1, dtype=torch.float64)
    kappa = (0.5 * len(r) + k * s2) / (s2 ** 0.5 * torch.cumsum(r, 0))  # if the k strongest are the ones sent
    # the most chunks whose weakest still gets power (the strongest always does: its power is 0.5 * len(r) > 0)
    active = int(torch.nonzero(s2 ** 0.5 * kappa * r > s2).max())
    power = (s2 ** 0.5 * kappa[active] * lam.sqrt() - s2).clamp_min(0.0)
    return (power / lam).sqrt()


class ChunkDCT:
    def __init__(self, chunk: int = 16, value_bits: int = 8, allocation: str = "softcast", spread: int = 1,
                 side_info: str = "plain") -> None:
        """`spread`: the Hadamard transform's group of chunks (a power of two; 1: each chunk on its own symbols);
        `side_info`: how the side information is coded and counted, "plain" or "compact"."""
        if chunk < 2:
            raise ValueError(f"chunks of {chunk}x{chunk} coefficients: use at least 2")
        if allocation not in DCT_ALLOCATIONS:
            raise ValueError(f"unknown power allocation {allocation!r}: {' or '.join(DCT_ALLOCATIONS)}")
        if spread < 1 or spread & (spread - 1):
            raise ValueError(f"the DCT code spreads chunks in groups of a power of two, not {spread}")
        if side_info not in DCT_SIDE_INFOS:
            raise ValueError(f"unknown side information code {side_info!r}: {' or '.join(DCT_SIDE_INFOS)}")
        self.chunk, self.value_bits, self.allocation, self.spread = chunk, value_bits, allocation, spread
        self.side_info = side_info

    @classmethod
    def of(cls, encoder: EncoderConfig) -> "ChunkDCT":
        """The code a model's encoder settings name (``EncoderConfig.dct_*``), as both ends build it."""
        return cls(encoder.dct_chunk, encoder.dct_value_bits, encoder.dct_allocation, encoder.dct_spread,
                   encoder.dct_side_info)

    def groups(self, sent: int) -> list[torch.Tensor]:
        """The groups of sent chunks (positions in sending order, strongest first) the Hadamard transform mixes:
        the first sent // spread * spread chunks in groups of `spread`, the weakest rest in groups of the powers of
        two their count is made of; each group a stratified draw over its part's ranking (a group of s takes the
        chunks nearest the ranks (i + 1/2) n / s of the n), so each mixes strong chunks with weak ones. Groups of
        one are left out. [] when the code does not spread."""
        if self.spread == 1:
            return []
        whole, rest = sent // self.spread * self.spread, sent % self.spread
        out = []
        for start, sizes in ((0, [self.spread] * (sent // self.spread)),
                             (whole, [1 << b for b in reversed(range(self.spread.bit_length())) if rest & (1 << b)])):
            slots = sorted(((i + 0.5) / s, j) for j, s in enumerate(sizes) for i in range(s))
            members: list[list[int]] = [[] for _ in sizes]
            for k, (_, j) in enumerate(slots):
                members[j].append(start + k)
            out += [torch.tensor(m) for m in members if len(m) > 1]
        return out

    def _spread(self, t: torch.Tensor) -> torch.Tensor:
        """The values (sent, m) of the chunks in sending order -> the values the channel uses carry, in the order
        they are sent (each group's Hadamard transform, then the interleaver); float64."""
        t = t.double().clone()
        if self.spread == 1:
            return t
        for g in self.groups(len(t)):
            t[g] = hadamard(len(g)) @ t[g]
        out = torch.empty_like(t.reshape(-1, 2))
        out[interleaver(len(out))] = t.reshape(-1, 2)
        return out.reshape(t.shape)

    def _deinterleave(self, v: torch.Tensor, sent: int) -> torch.Tensor:
        """Values per real value of the analog uses, in the order they were sent -> (sent, m), the rows the
        Hadamard transform made (the stream's use p[i] holds spread symbol i); float64."""
        v = v.double()
        if self.spread > 1:
            v = v.reshape(-1, 2)[interleaver(v.numel() // 2)]
        return v.reshape(sent, -1)

    def symbol_power(self, header: DCTHeader, alpha: torch.Tensor) -> torch.Tensor:
        """Each analog channel use's expected power, in the order they are sent (chunks at scale alpha), float64:
        a chunk's 2 alpha^2 g^2 lambda per complex symbol, or, spread, the mean of its group's."""
        m2 = self.chunk ** 2
        power = 2 * (alpha.double() * self.gains(header)).pow(2) * header.variances  # (sent,) per complex symbol
        for g in self.groups(len(power)):
            power[g] = power[g].mean()
        rows = power[:, None].expand(-1, m2 // 2)
        if self.spread == 1:
            return rows.flatten()
        out = torch.empty(rows.numel(), dtype=torch.float64)
        out[interleaver(rows.numel())] = rows.flatten()
        return out

    def gains(self, header: DCTHeader) -> torch.Tensor:
        """Each sent chunk's gain (sent,) float64, from what both ends know: SoftCast's lambda^(-1/4), or the
        allocation for the header's SNR (``mmse_gains``)."""
        if self.allocation == "softcast":
            return softcast_gains(header.variances)
        if header.snr_db is None:
            raise ValueError("the DCT code's MMSE allocation needs the SNR the transmission is sent at")
        return mmse_gains(header.variances, header.snr_db)

    def n_chunks(self, size: tuple[int, int]) -> int:
        """Chunks of a (H, W) frame, three planes."""
        return 3 * (size[0] // self.chunk) * (size[1] // self.chunk)

    def check_codable(self, size: tuple[int, int], uses: int, task: str = "this task", block: int | None = None) -> None:
        """ValueError unless a padded (H, W) frame can send one chunk in `uses` channel uses. With the `block` x
        `block` pixels a model's channel uses come in (its stride), the message names the smallest strip that can."""
        n = self.n_chunks(size)
        need = self.chunk ** 2 // 2 + self.side_information(n, 1)  # one chunk and the side information
        if uses >= need:
            return
        hint = ""
        if block is not None:
            per_block = uses // ((size[0] // block) * (size[1] // block))  # channel uses per block
            blocks = next((k for k in range(1, 4097) if per_block * k >= self.chunk ** 2 // 2 + self.side_information(
                n * k // ((size[0] // block) * (size[1] // block)), 1)), None)
            hint = (f"; send an image of at least {blocks * block}x{block} pixels" if blocks else
                    "; this model's CBR leaves no room for the code's side information")
        raise ValueError(f"a {size[1]}x{size[0]} image (padded) is too small for {task}'s DCT code: its "
                         f"{uses} channel uses do not hold the side information and one {self.chunk}x{self.chunk}"
                         f" chunk ({need}){hint}")

    def header_from_fields(self, means: tuple[float, ...], order: tuple[int, ...], codes: tuple[int, ...],
                           size: tuple[int, int], uses: int, snr_db: float | None = None) -> DCTHeader:
        """A header as the wire gave it -> DCTHeader; ValueError, a message a person can act on, unless it is
        what this code sends for a (H, W) padded frame in `uses` channel uses."""
        n = self.n_chunks(size)
        self.check_codable(size, uses)
        sent = self.chunks_sent(n, uses)
        half = 2 ** (self.value_bits - 1)
        if len(means) != 3 or not all(math.isfinite(m) and abs(m) <= 65504 for m in means):
            raise ValueError(f"the DCT code's header needs the three planes' means as finite float16 numbers, "
                             f"got {len(means)} value(s)")
        if len(order) != sent or len(codes) != sent:
            raise ValueError(f"the DCT code sends {sent} chunks of a {size[1]}x{size[0]} frame in {uses} channel uses; "
                             f"the header names {len(order)} chunk(s) and {len(codes)} variance(s): load the same "
                             "weights on both sides")
        if len(set(order)) != sent or not all(0 <= i < n for i in order):
            raise ValueError(f"the DCT code's chunk indices must be {sent} different numbers from 0 to {n - 1}")
        if not all(-half <= q < half for q in codes):
            raise ValueError(f"the DCT code's variance codes are {self.value_bits}-bit: from {-half} to {half - 1}")
        if self.side_info == "compact" and any(a < b for a, b in zip(codes, codes[1:])):
            raise ValueError("the DCT code's variance codes come strongest first: each at most the one before it")
        return DCTHeader(torch.tensor(means, dtype=torch.float64).view(3, 1, 1), torch.tensor(order),
                         torch.pow(2.0, torch.tensor(codes, dtype=torch.float64) / 4), size, snr_db)

    def side_information(self, n_chunks: int, sent: int) -> int:
        """Bits of side information: the planes' means (float16), which chunks were sent and their variances:
        plain, a bit per chunk and `value_bits` per variance; compact, the index of the set of sent chunks among
        all C(n, sent) and of the non-increasing variance codes among all C(sent + 2^value_bits - 1, sent)."""
        if self.side_info == "plain":
            return MEAN_BITS + n_chunks + sent * self.value_bits
        return (MEAN_BITS + index_bits(math.comb(n_chunks, sent))
                + index_bits(math.comb(sent + 2 ** self.value_bits - 1, sent)))

    def chunks_sent(self, n_chunks: int, uses: int) -> int:
        """How many chunks fit in `uses` complex channel uses beside their own side information."""
        m = self.chunk * self.chunk
        sent = (2 * uses - 2 * (n_chunks + MEAN_BITS)) // (m + 2 * self.value_bits)  # plain's, compact's least
        if self.side_info == "compact":  # the cost grows with every chunk (m / 2 uses, the index less than log2 n)
            def log2_comb(a: int, b: int) -> float:
                return (math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)) / math.log(2)

            def cost(k: int, exact: bool) -> float:
                if exact:
                    return k * m // 2 + self.side_information(n_chunks, k)
                return k * m // 2 + MEAN_BITS + log2_comb(n_chunks, k) + log2_comb(k + 2 ** self.value_bits - 1, k)

            lo, hi = min(max(sent, 0), n_chunks), n_chunks + 1  # bisection on the estimate, then exact steps
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if cost(mid, False) <= uses else (lo, mid)
            sent = lo
            while sent < n_chunks and cost(sent + 1, True) <= uses:
                sent += 1
            while sent > 0 and cost(sent, True) > uses:
                sent -= 1
        if sent < 1:
            raise ValueError(f"{uses} channel uses leave none for a chunk after the side information "
                             f"({n_chunks} chunks of {self.chunk}x{self.chunk}): use smaller chunks or a larger CBR")
        return min(sent, n_chunks)

    def quantised(self, variances: torch.Tensor) -> torch.Tensor:
        """The variances as the receiver gets them: log2 in steps of 1/4, value_bits bits (both ends use these)."""
        half = 2 ** (self.value_bits - 1)
        q = torch.round(torch.log2(variances.clamp_min(1e-30)) * 4).clamp(-half, half - 1)
        return torch.pow(2.0, q / 4)

    def _chunks(self, coef: torch.Tensor) -> torch.Tensor:
        c = self.chunk
        _, h, w = coef.shape
        return coef.reshape(3, h // c, c, w // c, c).permute(0, 1, 3, 2, 4).reshape(-1, c * c)

    def _frame(self, blocks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        c, (h, w) = self.chunk, size
        return blocks.view(3, h // c, w // c, c, c).permute(0, 1, 3, 2, 4).reshape(3, h, w)

    def encode(self, image: torch.Tensor, uses: int, snr_db: float | None = None) -> tuple[torch.Tensor, DCTHeader]:
        """(3, H, W), sent at `snr_db` (for the "mmse" allocation) -> (the sent values t (2 * channel uses of the
        code,) float32, at unit power per complex symbol on average over them, and the header)."""
        h, w = image.shape[-2:]
        if h % self.chunk or w % self.chunk:
            raise ValueError(f"a {w}x{h} image is not whole {self.chunk}x{self.chunk} chunks: pad it first")
        planes = torch.einsum("pc,chw->phw", OPPONENT.double(), image.double())
        means = planes.mean(dim=(1, 2), keepdim=True).half().double()  # side information, as float16
        blocks = self._chunks(dct_matrix(h) @ (planes - means) @ dct_matrix(w).T)
        sent = self.chunks_sent(len(blocks), uses)
        energy = blocks.pow(2).mean(1)
        order = torch.sort(energy, descending=True, stable=True).indices[:sent]
        header = DCTHeader(means, order, self.quantised(energy[order]), (h, w), snr_db)
        t = self._spread(blocks[order] * self.gains(header)[:, None])
        return t.flatten().float(), header

    def decode(self, received: torch.Tensor, noise_var: torch.Tensor, alpha: torch.Tensor,
               header: DCTHeader) -> torch.Tensor:
        """The received values (unbiased, each at scale alpha * g) and their noise variance per value, both in
        sending order -> the LMMSE image (3, H, W) float32, not clamped."""
        sent = len(header.order)
        a = alpha.double() * self.gains(header)[:, None]  # each chunk arrived at scale alpha * g (0: not sent)
        lam = header.variances[:, None]
        r, nv = self._deinterleave(received, sent), self._deinterleave(noise_var, sent)  # a group's rows: H a t + n
        est = lam * a * r / (lam * a.pow(2) + nv)  # LMMSE: v / (v + nv) * r / a, v = lam a^2
        for g in self.groups(sent):  # with the rows' own noise: lam a H (H diag(lam a^2) H + N)^-1 r per position
            hd = hadamard(len(g))
            s = hd @ torch.diag((lam[g] * a[g].pow(2))[:, 0]) @ hd
            m = s + torch.diag_embed(nv[g].T.clamp_min(1e-30))  # (positions, G, G)
            z = torch.linalg.solve(m, r[g].T.unsqueeze(-1))[..., 0].T  # (G, positions)
            est[g] = lam[g] * a[g] * (hd @ z)
        h, w = header.size
        blocks = torch.zeros(3 * (h // self.chunk) * (w // self.chunk), self.chunk ** 2, dtype=torch.float64)
        blocks[header.order] = est
        planes = dct_matrix(h).T @ self._frame(blocks, header.size) @ dct_matrix(w) + header.means
        return torch.einsum("pc,phw->chw", OPPONENT.double(), planes).float()

    def encode_grid(self, images: torch.Tensor, uses: int, snr_db: torch.Tensor | float | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, list[DCTHeader]]:
        """images (B, 3, H, W), whole chunks, sent at `snr_db` ((B,) or one value; for the "mmse" allocation) ->
        (x (B, uses) complex: the analog values at unit average power, the rest zero (the side information's uses),
        the scale alpha (B,) that made them so, the headers)."""
        rows, alphas, headers = [], [], []
        snrs = [None] * len(images) if snr_db is None else \
            torch.as_tensor(snr_db, dtype=torch.float64).reshape(-1).expand(len(images)).tolist()
        for image, snr in zip(images, snrs):
            t, header = self.encode(image.detach().float().cpu(), uses, snr)
            x, alpha = unit_power(torch.complex(t[0::2], t[1::2])[None])
            rows.append(torch.cat([x[0], torch.zeros(uses - x.shape[1], dtype=x.dtype)]))
            alphas.append(alpha[0])
            headers.append(header)
        return torch.stack(rows).to(images.device), torch.stack(alphas).to(images.device), headers

    def decode_grid(self, symbols: torch.Tensor, noise_var: torch.Tensor, alpha: torch.Tensor,
                    headers: list[DCTHeader], estimate_share: torch.Tensor | None = None) -> torch.Tensor:
        """symbols (B, n) unbiased complex and their noise variance per real value (B, n) (``Reception.unbiased``),
        the scales (B,) -> the LMMSE images (B, 3, H, W) float32, not clamped. With an estimated channel
        (`estimate_share` (B, n), ``Reception.estimate_share``) each chunk's noise is scaled to its symbols' power
        P (``symbol_power``): the estimate's error grows with it, (no + e P) / |h|^2 where a unit-power symbol sees
        (no + e) / |h|^2."""
        out = []
        m2 = self.chunk ** 2
        for i, (s, nv, a, header) in enumerate(zip(symbols, noise_var, alpha, headers)):
            m = len(header.order) * m2 // 2  # the analog uses
            received = torch.stack([s[:m].real, s[:m].imag], 1).flatten().cpu()
            nv = nv[:m].double().cpu()
            if estimate_share is not None:
                share = estimate_share[i, :m].double().cpu()
                nv = nv * (1 - share + share * self.symbol_power(header, a.cpu()))
            out.append(self.decode(received, nv.repeat_interleave(2), a.cpu(), header))
        return torch.stack(out).to(symbols.device)
