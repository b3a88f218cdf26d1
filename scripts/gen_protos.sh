#!/usr/bin/env bash
# Regenerates shared/rpc/*_pb2*.py from protos/ with the pinned generator (grpcio-tools==1.85.1).
# The .proto lives at protos/shared/rpc/ so the generated modules import each other as shared.rpc.*.
# PYTHON picks the interpreter that has grpcio-tools (default: python3 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
"${PYTHON:-python3}" -m grpc_tools.protoc -Iprotos --python_out=. --pyi_out=. --grpc_python_out=. \
  protos/shared/rpc/semcom.proto
