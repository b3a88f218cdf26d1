"""Diffusion schedule and sampler. They take the denoising network as a callable and never import it."""

from receiver.diffusion.schedule import NoiseSchedule
from receiver.diffusion.sampler import ddim_sample, ddim_timesteps

__all__ = ["NoiseSchedule", "ddim_sample", "ddim_timesteps"]
