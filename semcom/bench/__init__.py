"""`semcom bench`: models, services, task KB and diffusion benchmarks, as JSON."""
