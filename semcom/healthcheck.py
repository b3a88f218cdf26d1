"""`python -m semcom.healthcheck ADDR`: exit 0 when the gRPC health service at ADDR says SERVING.

Used by docker compose health checks: it asks the health service, not just the port.
TLS settings come from the same SEMCOM_TLS_* variables as the services (health needs no token).
"""

from __future__ import annotations

import sys

from semcom.launcher import health_status


def env_security():
    """TLS settings from SEMCOM_TLS_* (the token is not needed for health)."""
    import argparse

    from shared.security import Security, add_security_args
    from shared.service import env

    p = argparse.ArgumentParser()
    add_security_args(p, env)
    sec = Security.from_args(p.parse_args([]))
    return Security(sec.cert, sec.key, sec.ca)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m semcom.healthcheck HOST:PORT", file=sys.stderr)
        return 2
    status = health_status(argv[0], security=env_security())
    print(status)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
