"""A linear analog code of image patches (the SoftCast family, Jakubczak & Katabi 2011).

::

    image (B,3,H,W) --p x p patches, minus the mean patch, onto the top-k principal components
        --> coefficients c (B,k,H/p,W/p) --x g_k = kappa * lambda_k^(-1/4)--> t (real, k per patch)
        --> k/2 complex symbols per patch (t[:k/2] real parts, t[k/2:] imaginary parts)
    receiver: unbias the equalised y, per-component LMMSE  t_k * v_k / (v_k + noise),
        divide by g_k, back through the components, plus the mean patch --> image

With p = 16 and k = 96 real values per patch, a patch costs 48 complex channel uses: CBR 1/16.
g_k ~ lambda_k^(-1/4) is SoftCast's power allocation (minimum MSE for a linear code with
per-component scaling); kappa makes the average power over the fitted data one per complex
symbol. Each transmission is then scaled to unit power exactly, and the scale alpha goes to the
receiver as side information (one number per image).

SoftCast proper fits the allocation to each image (``per_image_allocation``): its own component
variances v_k set the gains, and v goes to the receiver as metadata for the LMMSE (k numbers per
image). On a code whose gains g_k were fitted on other images this is a per-component ratio
r_k = g_k(image) / g_k, and the receiver sees each component at the scale alpha * r_k.

The same modules are the training-free baseline (``semcom.baselines.linear``) and, as
learnable layers initialised from the fit, the linear path inside the proposed system's JSCC
encoder and its inverse at the receiver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from shared.channel import Reception
from shared.tensorfile import save_tensors
from shared.symbols import to_real

PCA_FILE = "pca.safetensors"


@dataclass(frozen=True)
class PatchPCA:
    """Principal components of p x p x 3 patches, by decreasing variance.

    Patch vectors are laid out as ``F.pixel_unshuffle`` lays out channels: (colour, row, column).
    """

    patch: int
    mean: torch.Tensor  # (3*p*p,)
    components: torch.Tensor  # (k, 3*p*p), orthonormal rows
    variances: torch.Tensor  # (k,), eigenvalues

    @property
    def keep(self) -> int:
        return self.components.shape[0]

    def truncate(self, k: int) -> "PatchPCA":
        if not 1 <= k <= self.keep:
            raise ValueError(f"cannot keep {k} components of a fit with {self.keep}")
        return PatchPCA(self.patch, self.mean, self.components[:k], self.variances[:k])

    def code(self, patch: int, keep: int) -> tuple["PatchPCA", torch.Tensor]:
        """The first `keep` components and their SoftCast gains, for a code of `patch` x `patch` patches."""
        if patch != self.patch:
            raise ValueError(f"a fit of {self.patch}x{self.patch} patches cannot start a {patch}x{patch} code")
        kept = self.truncate(keep)
        return kept, softcast_gains(kept.variances)

    def save(self, directory: str | Path, meta: dict | None = None) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        save_tensors({"mean": self.mean.contiguous(), "components": self.components.contiguous(),
                      "variances": self.variances.contiguous()}, d / PCA_FILE,
                     metadata={"patch": str(self.patch), "meta": json.dumps(meta or {})})
        return d / PCA_FILE

    @classmethod
    def load(cls, path: str | Path) -> "PatchPCA":
        path = Path(path)
        if path.is_dir():
            path = path / PCA_FILE
        t = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            patch = int(f.metadata()["patch"])
        return cls(patch, t["mean"].float(), t["components"].float(), t["variances"].float())


def image_patches(image: torch.Tensor, patch: int) -> torch.Tensor:
    """(3, H, W) -> (N, 3*p*p) non-overlapping patches (the image cropped to whole patches)."""
    h, w = image.shape[-2] // patch * patch, image.shape[-1] // patch * patch
    cols = F.pixel_unshuffle(image[None, :, :h, :w], patch)  # (1, 3p^2, h/p, w/p)
    return cols.flatten(2)[0].T  # (N, 3p^2)


def fit_pca(images: Iterable[torch.Tensor], patch: int, keep: int) -> PatchPCA:
    """Principal components of every whole p x p patch of `images` ((3, H, W) in [0, 1])."""
    dim = 3 * patch * patch
    total = torch.zeros(dim, dtype=torch.float64)
    outer = torch.zeros(dim, dim, dtype=torch.float64)
    n = 0
    for img in images:
        x = image_patches(img, patch).double()
        total += x.sum(0)
        outer += x.T @ x
        n += x.shape[0]
    if n < dim:
        raise ValueError(f"{n} patches are too few for a {dim}-dimensional fit")
    mean = total / n
    cov = outer / n - torch.outer(mean, mean)
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    order = torch.argsort(evals, descending=True)[:keep]
    comps = evecs[:, order].T  # (keep, dim)
    comps = comps * torch.sign(comps.sum(1, keepdim=True) + 1e-12)  # a fixed sign per component
    return PatchPCA(patch, mean.float(), comps.float().contiguous(), evals[order].clamp_min(1e-12).float())


def softcast_gains(variances: torch.Tensor) -> torch.Tensor:
    """g_k = kappa * lambda_k^(-1/4), kappa giving one unit of power per complex symbol on average.

    variances (..., k): the components are the last dimension (one allocation per row)."""
    variances = variances.clamp_min(1e-12)  # an image with nothing in a component (or in any) stays finite
    g = variances.pow(-0.25)
    power = (g.pow(2) * variances).sum(-1, keepdim=True) / (variances.shape[-1] / 2)  # per complex symbol
    return g / power.sqrt()


def per_image_allocation(t: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """SoftCast's allocation for each image of a code fitted elsewhere.

    t (B, k, h, w): the code's values with fixed gains g (k,) (t_k = g_k * coefficient_k). Returns (B, 2, k):
    the ratio r_k = g_k(image) / g_k that gives each component the gain SoftCast chooses from this image's
    coefficient variances (unit power per complex symbol again), and v_k = E[t_k^2] over this image's
    patches, which the receiver's LMMSE needs as its prior."""
    v = t.pow(2).mean(dim=(2, 3))  # (B, k)
    g = gains.view(1, -1)
    return torch.stack([softcast_gains(v / g.pow(2)) / g, v], dim=1)


def code_scale(alpha: torch.Tensor, allocation: torch.Tensor | None) -> torch.Tensor:
    """The scale from a code's values to the unit-power symbols, per image and component: alpha (B,) times
    the per-image ratio of ``per_image_allocation`` when there is one -> (B, k), or (B, 1) without."""
    return alpha.view(-1, 1) if allocation is None else alpha.view(-1, 1) * allocation[:, 0]


class AnalogEncoder(nn.Module):
    """Patch projection: image (B,3,H,W), H and W multiples of p -> t = g * P (patch - mean), (B, k, H/p, W/p).

    Built from a fit (``pca``) it is the linear code exactly; without one it starts random
    (a checkpoint is about to be loaded into it).
    """

    def __init__(self, patch: int, keep: int, pca: PatchPCA | None = None) -> None:
        super().__init__()
        self.patch, self.keep = patch, keep
        self.proj = nn.Conv2d(3, keep, patch, stride=patch)
        if pca is not None:
            self.init_from(pca)

    @torch.no_grad()
    def init_from(self, pca: PatchPCA) -> None:
        pca, g = pca.code(self.patch, self.keep)
        weight = (g[:, None] * pca.components).view(self.keep, 3, self.patch, self.patch)
        self.proj.weight.copy_(weight)
        self.proj.bias.copy_(-(weight.flatten(1) @ pca.mean))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.proj(image)

    def gains(self) -> torch.Tensor:
        """g_k (k,): the norm of each component's projection (the fit's components are unit vectors)."""
        return self.proj.weight.flatten(1).norm(dim=1)


class AnalogDecoder(nn.Module):
    """Per-component LMMSE, then back through the components: the inverse of ``AnalogEncoder``.

    ``prior`` holds log E[t_k^2] (before the per-image scale alpha), initialised from the fit:
    g_k^2 lambda_k. The estimate of t_k from its received value r_k (unbiased, noise variance
    nv per real component, in the unit-power domain) is  v / (v + nv) * r_k / alpha  with
    v = alpha^2 exp(prior_k); the image is then  sum_k (t_k / g_k) P_k + mean.
    """

    def __init__(self, patch: int, keep: int, pca: PatchPCA | None = None) -> None:
        super().__init__()
        self.patch, self.keep = patch, keep
        self.prior = nn.Parameter(torch.zeros(keep))
        self.synth = nn.ConvTranspose2d(keep, 3, patch, stride=patch, bias=False)
        self.mean = nn.Parameter(torch.full((1, 3 * patch * patch, 1, 1), 0.5))
        if pca is not None:
            self.init_from(pca)

    @torch.no_grad()
    def init_from(self, pca: PatchPCA) -> None:
        pca, g = pca.code(self.patch, self.keep)
        self.prior.copy_((g.pow(2) * pca.variances).log())
        self.synth.weight.copy_((pca.components / g[:, None]).view(self.keep, 3, self.patch, self.patch))
        self.mean.copy_(pca.mean.view(1, -1, 1, 1))

    def estimate(self, received: torch.Tensor, noise_var: torch.Tensor, alpha: torch.Tensor,
                 allocation: torch.Tensor | None = None) -> torch.Tensor:
        """received (B,k,h,w) unbiased real values, noise_var broadcastable to it, alpha (B,) -> t_hat (B,k,h,w),
        the code at its fitted gains.

        With the image's `allocation` (B, 2, k) (``per_image_allocation``, SoftCast's metadata) each component
        arrived at the scale alpha * ratio (``code_scale``) and the image's variances replace the fitted prior."""
        a = code_scale(alpha, allocation)[:, :, None, None]  # (B, k or 1, 1, 1)
        prior = self.prior.exp().view(1, -1) if allocation is None else allocation[:, 1]
        v = prior[:, :, None, None] * a.pow(2)
        return v / (v + noise_var) * received / a

    def analyse(self, image: torch.Tensor) -> torch.Tensor:
        """image (B,3,H,W), H and W multiples of p -> the code's values t (B,k,H/p,W/p) at the fitted gains whose
        synthesis is nearest it: each component's projection onto its synthesis row, (image - mean) . s_k /
        |s_k|^2 (exact for the fit's orthogonal rows). The receiver's view of an image decoded another way
        (``EncoderConfig.dct_tasks``) in this code's terms."""
        b, _, h, w = image.shape
        mean = F.pixel_shuffle(self.mean.expand(b, -1, h // self.patch, w // self.patch), self.patch)
        weight = self.synth.weight / self.synth.weight.flatten(1).pow(2).sum(1).clamp_min(1e-12).view(-1, 1, 1, 1)
        return F.conv2d(image - mean, weight, stride=self.patch)

    def synthesise(self, t: torch.Tensor) -> torch.Tensor:
        """t (B,k,h,w) -> image (B,3,h*p,w*p)."""
        b, _, h, w = t.shape
        return self.synth(t) + F.pixel_shuffle(self.mean.expand(b, -1, h, w), self.patch)

    def forward(self, received: torch.Tensor, noise_var: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return self.synthesise(self.estimate(received, noise_var, alpha))


def unbiased_view(reception: Reception, grid: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A reception (``shared.channel.receive``) made unbiased on the symbol grid (c, h, w): (B, 2c, h, w) real
    values and their noise variance per real value (``Reception.unbiased``)."""
    symbols, noise = reception.unbiased()
    b = symbols.shape[0]
    symbols, noise = symbols.reshape(b, *grid), noise.reshape(b, *grid)
    return to_real(symbols), torch.cat([noise, noise], dim=1)


def keep_for(cbr: float, patch: int) -> int:
    """Real values per patch at a CBR: 2 * CBR * 3 * p^2 (96 at CBR 1/16 and p = 16)."""
    k = 2 * cbr * 3 * patch * patch
    if abs(k - round(k)) > 1e-9 or round(k) < 2 or round(k) % 2:
        raise ValueError(f"CBR {cbr} does not give a whole even number of real values per {patch}x{patch} patch")
    return int(round(k))
