"""compose.yaml's "replicas" profile and deploy/nginx.conf describe the same deployment."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from pipeline.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_replicas_profile_matches_the_balancer_config() -> None:
    services = _compose()["services"]
    profile = {name for name, s in services.items() if "replicas" in s.get("profiles", [])}
    assert profile == {"redis", "studio-1", "studio-2", "balancer"}
    assert "profiles" not in services["studio"]  # plain `docker compose up` is unchanged

    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    for upstream in ("flyer_sticky", "flyer_any"):
        block = re.search(rf"upstream {upstream} \{{(.*?)\}}", nginx, flags=re.S)
        assert block is not None
        servers = re.findall(r"^\s*server (\S+):7860 ", block.group(1), flags=re.M)
        assert servers == ["studio-1", "studio-2"]

    balancer = services["balancer"]
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in balancer["volumes"]
    address = balancer["networks"]["replicas"]["ipv4_address"]
    subnet = _compose()["networks"]["replicas"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)

    for name in ("studio-1", "studio-2"):
        env = services[name]["environment"]
        assert env["FLYER_TRUSTED_PROXIES"] == address  # only the balancer is believed
        assert env["API_MASTER_KEY"].startswith("${API_MASTER_KEY:?")  # one key for all
        settings = load_settings({k: v for k, v in env.items() if k != "API_MASTER_KEY"},
                                 env_file=None)
        assert settings.store_url == "redis://redis:6379/0"
        assert settings.trusted_proxies == (address,)
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    command = services["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
