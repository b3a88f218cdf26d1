"""docker-compose.yml as a user with Docker would run it, checked with `docker-compose config` (no engine here)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"transmitter": 50051, "channel": 50052, "receiver": 50053}


def compose_config(*files: str) -> dict:
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing: .ci/run installs the Debian package docker-compose")
        pytest.skip("docker-compose not installed (apt-get install docker-compose)")
    args = [exe]
    for f in files:
        args += ["-f", f]
    out = subprocess.run(args + ["config"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(out)


def test_three_services_with_grpc_health_checks():
    cfg = compose_config("docker-compose.yml")
    services = cfg["services"]
    assert set(services) == set(SERVICES) | {"web"}
    images = {s.get("image") for s in services.values()}
    assert images == {"semcom:latest"}  # one image for all
    for name, port in SERVICES.items():
        svc = services[name]
        assert svc["command"][:3] == ["python", "-m", name]
        test = svc["healthcheck"]["test"]
        assert "semcom.healthcheck" in test and f"localhost:{port}" in test  # asks the gRPC health service
        (published,) = svc["ports"]
        text = str(published)
        assert "127.0.0.1" in text and str(port) in text
        vols = [str(v) for v in svc["volumes"]]
        assert any("/weights" in v and ("ro" in v or "read_only" in v) for v in vols)
        assert "deploy" not in svc  # CPU hosts need no GPU reservation


def test_start_order_waits_for_health():
    services = compose_config("docker-compose.yml")["services"]
    assert services["channel"]["depends_on"]["receiver"]["condition"] == "service_healthy"
    for dep in ("channel", "receiver"):
        assert services["transmitter"]["depends_on"][dep]["condition"] == "service_healthy"


def test_gpu_override_reserves_a_gpu():
    services = compose_config("docker-compose.yml", "docker-compose.gpu.yml")["services"]
    for name in ("transmitter", "receiver"):
        (dev,) = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert dev["driver"] == "nvidia" and "gpu" in dev["capabilities"]
        assert services[name]["environment"]["SEMCOM_DEVICE"] == "cuda"
    assert "deploy" not in services["channel"]


def test_web_page_on_loopback_8080_after_the_services():
    web = compose_config("docker-compose.yml")["services"]["web"]
    assert web["command"][:3] == ["python", "-m", "semcom.web.app"]
    (published,) = web["ports"]
    assert "127.0.0.1" in str(published) and "8080" in str(published)
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    for dep in ("transmitter", "receiver"):
        assert web["depends_on"][dep]["condition"] == "service_healthy"
    assert web["environment"]["SEMCOM_TRANSMITTER_ADDR"] == "transmitter:50051"
