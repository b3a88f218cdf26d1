"""Independent random streams per request, derived from the one seed the user gives."""


def derive_seed(seed: int, stream: str) -> int:
    """A distinct, reproducible seed for `stream` ("channel", "sampler", ...) of request `seed`."""
    return (int(seed) * 1_000_003 + sum(map(ord, stream)) * 7919) % (2**63 - 1)
