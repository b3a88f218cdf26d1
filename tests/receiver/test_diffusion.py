import pytest
import torch

from receiver.diffusion import NoiseSchedule, ddim_sample, ddim_timesteps


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_schedule_decreasing(kind):
    s = NoiseSchedule(1000, kind)
    a = s.alphas_cumprod
    assert a.shape == (1000,) and torch.all(a[1:] <= a[:-1]) and a[0] > 0.99 and a[-1] < 0.01


def test_ddim_timesteps():
    assert ddim_timesteps(1000, 1) == [999]
    ts = ddim_timesteps(1000, 5)
    assert ts[0] == 999 and ts[-1] == 0 and len(ts) == 5
    with pytest.raises(ValueError):
        ddim_timesteps(1000, 0)


@pytest.mark.parametrize("steps", [1, 2, 10, 50])
def test_ddim_with_oracle_denoiser_recovers_target(steps):
    """An exact x0 predictor makes every step land on the target: the sampler's maths is consistent."""
    target = torch.randn(2, 4, 3, 5, generator=torch.Generator().manual_seed(0))
    calls = []

    def oracle(z, t):
        calls.append(int(t[0]))
        return target

    out = ddim_sample(oracle, NoiseSchedule(1000), target.shape, steps, torch.Generator().manual_seed(1), "cpu")
    assert torch.allclose(out, target)
    assert len(calls) == steps and calls == sorted(calls, reverse=True)


def test_ddim_iterates_on_state():
    """Each step feeds the next: a denoiser that shrinks its input sees a state moving towards its predictions."""
    seen = []

    def shrink(z, t):
        seen.append(z.clone())
        return 0.5 * z

    ddim_sample(shrink, NoiseSchedule(1000), (1, 2, 4, 4), 4, torch.Generator().manual_seed(0), "cpu")
    norms = [float(z.norm()) for z in seen]
    assert len(seen) == 4 and norms[-1] < norms[0]


def test_stochastic_eta_uses_generator():
    f = lambda z, t: 0.9 * z
    s = NoiseSchedule(100)
    a = ddim_sample(f, s, (1, 2, 4, 4), 5, torch.Generator().manual_seed(3), "cpu", eta=1.0)
    b = ddim_sample(f, s, (1, 2, 4, 4), 5, torch.Generator().manual_seed(3), "cpu", eta=1.0)
    assert torch.equal(a, b)
