"""The nginx configuration of docs/deployment.md, run by Debian's nginx in front of two app processes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_service
from tests.support.processes import free_port, server_env, stadslab_command, stop, wait_for_http

DOCS = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _block(marker: str) -> str:
    text = DOCS.read_text()
    m = re.search(rf"<!-- {marker} -->\s*```nginx\n(.*?)```\s*<!-- /{marker} -->", text, re.S)
    assert m, f"docs/deployment.md lost its {marker} block"
    return m.group(1)


def _requests_served(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("stadslab_http_requests_total{") and 'route="/sta/v1.1/{path:path}"' in line)


@pytest.fixture
def tls_cert(tmp_path):
    key, crt = tmp_path / "key.pem", tmp_path / "crt.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=stadslab.test", "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return crt, key


def test_nginx_config_from_the_docs(db, tmp_path, tls_cert):
    if not Path(NGINX).exists():
        require_service("Debian nginx not installed (apt-get install nginx-light)")
    app_ports = [free_port(), free_port()]
    http_port, https_port = free_port(), free_port()
    upstream = _block("nginx-upstream").replace("127.0.0.1:8001", f"127.0.0.1:{app_ports[0]}") \
                                       .replace("127.0.0.1:8002", f"127.0.0.1:{app_ports[1]}")
    proxy = tmp_path / "stadslab-proxy.conf"
    proxy.write_text(_block("nginx-proxy"))
    crt, key = tls_cert
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
{'user root;' if os.geteuid() == 0 else ''}
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fcgi; uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
    {upstream}
    server {{ listen 127.0.0.1:{http_port}; include {proxy}; }}
    server {{ listen 127.0.0.1:{https_port} ssl; ssl_certificate {crt}; ssl_certificate_key {key};
             include {proxy}; }}
}}
""")
    env = server_env(db.url, log_level="WARNING")
    apps = [subprocess.Popen(stadslab_command(p), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for p in app_ports]
    nginx = None
    try:
        for p, proc in zip(app_ports, apps):
            wait_for_http(f"http://127.0.0.1:{p}/api/v1/health/live", proc)
        check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_http(f"http://127.0.0.1:{http_port}/api/v1/health/live", nginx)

        # TLS terminated by nginx: links name the public https origin the client used
        host = f"stadslab.test:{https_port}"
        r = httpx.get(f"https://127.0.0.1:{https_port}/sta/v1.1", headers={"Host": host}, verify=False, timeout=10)
        assert r.status_code == 200, r.text
        urls = [v["url"] for v in r.json()["value"]]
        assert urls and all(u.startswith(f"https://{host}/sta/v1.1/") for u in urls), urls
        # plain http through the proxy: http links, and the request id comes back
        r = httpx.get(f"http://127.0.0.1:{http_port}/sta/v1.1", headers={"Host": "stadslab.test"}, timeout=10)
        assert r.json()["value"][0]["url"].startswith("http://stadslab.test/sta/v1.1/")
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])

        # load spreads over both instances
        before = [_requests_served(p) for p in app_ports]
        for _ in range(20):
            assert httpx.get(f"http://127.0.0.1:{http_port}/sta/v1.1/Things", timeout=10).status_code == 200
        after = [_requests_served(p) for p in app_ports]
        served = [a - b for a, b in zip(after, before)]
        assert sum(served) == 20 and all(n > 0 for n in served), served

        # metrics are not exposed through the proxy, not even with a spoofed X-Forwarded-For
        assert httpx.get(f"http://127.0.0.1:{http_port}/metrics", timeout=10).status_code == 404
        assert httpx.get(f"http://127.0.0.1:{app_ports[0]}/metrics", timeout=10,
                         headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403

        # fail-over: with one instance down every request still succeeds
        stop(apps[0])
        codes = {httpx.get(f"http://127.0.0.1:{http_port}/sta/v1.1/Things", timeout=10).status_code
                 for _ in range(6)}
        assert codes == {200}
    finally:
        if nginx is not None:
            stop(nginx)
        for proc in apps:
            stop(proc)
