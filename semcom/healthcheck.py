"""`python -m semcom.healthcheck ADDR`: exit 0 when the gRPC health service at ADDR says SERVING.

Used by docker compose health checks: it asks the health service, not just the port.
TLS settings come from the same SEMCOM_TLS_* variables as the services (health needs no token).
"""

from __future__ import annotations

import sys

from semcom.launcher import health_status
from shared.endpoints import tls_from_env


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m semcom.healthcheck HOST:PORT", file=sys.stderr)
        return 2
    status = health_status(argv[0], security=tls_from_env())
    print(status)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
