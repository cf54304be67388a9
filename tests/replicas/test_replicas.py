"""Two studio replicas sharing one Redis behind nginx: flyers made on one are served by the
other, the store's bound and the login lockout hold across them, a killed replica loses
nothing, and Gradio sessions (queue, uploads, files) stick to one replica through the load
balancer while REST lands anywhere."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
import redis
from gradio_client import Client

from tests.fake_sd import FakeSDServer
from tests.local_servers import Replica

from .conftest import Cluster, MakeCluster

BODY: dict[str, Any] = {
    "prompt": "jazz night, neon",
    "size": [1080, 1350],
    "batch_size": 1,
    "details": {"title": "Jazz on the roof", "date": "12 June", "place": "Le Duc"},
}


def make_flyers(url: str, key: str, batch: int = 1, title: str = "Jazz") -> list[str]:
    body = {**BODY, "batch_size": batch, "details": {**BODY["details"], "title": title}}
    response = httpx.post(url + "/flyer", json=body, headers={"X-API-Key": key}, timeout=120)
    assert response.status_code == 200, response.text
    return [uri.rsplit("/", 1)[1] for uri in response.json()["flyers_uris"]]


def fetch(url: str, key: str, flyer_id: str) -> httpx.Response:
    return httpx.get(f"{url}/flyer/{flyer_id}", headers={"X-API-Key": key}, timeout=30)


def test_a_flyer_made_on_a_is_served_by_b_and_through_the_balancer(cluster: Cluster) -> None:
    ids = make_flyers(cluster.a.url, cluster.key, batch=2, title="Made on A")
    for flyer_id in ids:
        from_a = fetch(cluster.a.url, cluster.key, flyer_id)
        from_b = fetch(cluster.b.url, cluster.key, flyer_id)
        through = fetch(cluster.url, cluster.key, flyer_id)
        assert from_a.status_code == from_b.status_code == through.status_code == 200
        assert from_b.headers["content-type"] == "image/jpeg"
        assert from_a.content == from_b.content == through.content
    assert fetch(cluster.b.url, cluster.key, "no-such-id").status_code == 404


def posts(replica: Replica) -> int:
    """How many ``POST /flyer`` the replica answered (uvicorn's access log)."""
    return replica.log.read_text(errors="replace").count('"POST /flyer HTTP/1.1"')


def test_rest_through_the_balancer_lands_on_both_replicas(cluster: Cluster) -> None:
    """REST is not sticky: nginx spreads it; each flyer is then readable on both replicas."""
    logs_before = [posts(r) for r in cluster.replicas]
    ids: list[str] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            ids.extend(make_flyers(cluster.url, cluster.key, title="Through nginx"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(ids) == 6
    served = [posts(r) - before for r, before in zip(cluster.replicas, logs_before, strict=True)]
    assert sum(served) == 6 and min(served) >= 1, served  # least_conn used both
    for flyer_id in ids:
        assert fetch(cluster.a.url, cluster.key, flyer_id).status_code == 200
        assert fetch(cluster.b.url, cluster.key, flyer_id).status_code == 200


def test_gradio_clients_through_the_balancer_stick_to_their_replica(cluster: Cluster) -> None:
    """gradio_client logs in, joins Gradio's queue, streams its events and downloads the
    result files: every one of those requests must reach the replica holding the session.
    Each client gets its own affinity cookie (a random id nginx hashes), so clients land on
    either replica and stay there."""
    cookies: set[str] = set()
    for n in range(4):
        client = Client(cluster.url, auth=cluster.auth, verbose=False)
        try:
            assert "flyer_replica" in client.cookies
            cookies.add(client.cookies["flyer_replica"])
            pngs, manifests = client.predict(title=f"Sticky {n}", api_name="/generate")
            assert len(pngs) == len(manifests) == 1
            flyer_id = manifests[0]["id"]
            # made through Gradio on one replica, stored in Redis: REST finds it on both
            assert fetch(cluster.a.url, cluster.key, flyer_id).status_code == 200
            assert fetch(cluster.b.url, cluster.key, flyer_id).status_code == 200
            # re-rendering works on whichever replica holds this session
            png, _pdf, manifest = client.predict(flyer_id=flyer_id, layout="minimal_type",
                                                 api_name="/rerender")
            assert manifest["id"] != flyer_id and png
        finally:
            client.close()
    assert len(cookies) == 4


def test_a_browser_session_without_the_cookie_would_break_gradio(cluster: Cluster) -> None:
    """Why the stickiness: a login made on A is unknown to B (Gradio's tokens are per
    process), so the cookie must keep sending the browser to A."""
    login = httpx.post(cluster.a.url + "/login",
                       data={"username": "organiser", "password": cluster.key})
    assert login.status_code == 200
    assert httpx.get(cluster.a.url + "/config", cookies=login.cookies).status_code == 200
    assert httpx.get(cluster.b.url + "/config", cookies=login.cookies).status_code == 401
    with httpx.Client(base_url=cluster.url) as browser:
        assert browser.post("/login", data={"username": "organiser",
                                            "password": cluster.key}).status_code == 200
        assert "flyer_replica" in browser.cookies
        for _ in range(10):  # the same replica every time
            assert browser.get("/config").status_code == 200


def test_the_store_bound_holds_across_replicas(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(MAX_IN_MEMORY="4")
    kept = [make_flyers(replica.url, cluster.key)[0]
            for replica in (cluster.a, cluster.b, cluster.a, cluster.b)]
    for url in (cluster.a.url, cluster.b.url, cluster.url):
        response = httpx.post(url + "/flyer", json=BODY, headers=cluster.headers, timeout=60)
        assert response.status_code == 503, response.text
        assert response.json()["detail"] == "Service Overload"
    for flyer_id in kept:  # nothing stored was touched
        assert fetch(cluster.a.url, cluster.key, flyer_id).status_code == 200
        assert fetch(cluster.b.url, cluster.key, flyer_id).status_code == 200
    client = Client(cluster.b.url, auth=cluster.auth, verbose=False)
    try:
        with pytest.raises(Exception, match="full"):
            client.predict(title="One too many", api_name="/generate")
    finally:
        client.close()


def test_wrong_logins_spread_over_both_replicas_lock_the_address_on_both(
    make_cluster: MakeCluster,
) -> None:
    """10 failures allowed per address: 6 on each replica would never lock a single process
    out; counted together in Redis, the 11th and 12th attempts are already refused."""
    cluster = make_cluster(FLYER_LOGIN_MAX_FAILURES="10", FLYER_LOGIN_LOCKOUT="300")
    statuses = []
    for n in range(12):
        replica = cluster.replicas[n % 2]
        response = httpx.post(replica.url + "/login",
                              data={"username": "mallory", "password": f"guess-{n}"})
        statuses.append(response.status_code)
    assert statuses[:10] == [400] * 10, statuses
    assert statuses[10:] == [429, 429], statuses
    for url in (cluster.a.url, cluster.b.url, cluster.url):
        right = httpx.post(url + "/login", data={"username": "me", "password": cluster.key})
        assert right.status_code == 429  # even the right key, from this address, everywhere
        assert int(right.headers["retry-after"]) > 200
        assert httpx.get(url + "/flyer/x", headers=cluster.headers).status_code == 429


def test_wrong_keys_on_rest_count_on_every_replica(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(FLYER_LOGIN_MAX_FAILURES="4")
    wrong = {"X-API-Key": "not-the-key-at-all"}
    codes = [httpx.get(f"{cluster.replicas[n % 2].url}/flyer/x", headers=wrong).status_code
             for n in range(5)]
    assert codes == [403, 403, 403, 403, 429]
    assert httpx.get(cluster.b.url + "/flyer/x", headers=cluster.headers).status_code == 429


def test_the_balancer_passes_the_real_address_and_drops_a_forged_one(
    make_cluster: MakeCluster,
) -> None:
    """Through nginx the replicas count the client's own address (127.0.0.2 here, not nginx's
    127.0.0.1), and an X-Forwarded-For the client forges does not change it."""
    cluster = make_cluster(FLYER_LOGIN_MAX_FAILURES="4")
    elsewhere = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with elsewhere:
        codes = [
            elsewhere.get(f"{cluster.url}/flyer/x", headers={
                "X-API-Key": "wrong", "X-Forwarded-For": f"10.9.8.{n}"}).status_code
            for n in range(5)
        ]
        assert codes == [403, 403, 403, 403, 429]
        assert elsewhere.get(f"{cluster.url}/flyer/x",
                             headers=cluster.headers).status_code == 429
    for replica in cluster.replicas:  # 127.0.0.1 itself (nginx, and us directly) is not locked
        assert httpx.get(f"{replica.url}/flyer/x", headers=cluster.headers).status_code == 404
    assert httpx.get(f"{cluster.url}/flyer/x", headers=cluster.headers).status_code == 404


def test_replica_a_killed_mid_run_loses_nothing(make_cluster: MakeCluster) -> None:
    with FakeSDServer() as sd:
        cluster = make_cluster(STABLE_DIFUSION_INSTANCE=sd.url, FLYER_BACKEND="automatic1111")
        made_on_a = make_flyers(cluster.a.url, cluster.key, batch=3, title="Before the crash")
        originals = {i: fetch(cluster.a.url, cluster.key, i).content for i in made_on_a}
        outcome: list[object] = []

        def long_run() -> None:
            try:
                outcome.append(make_flyers(cluster.a.url, cluster.key, batch=5, title="Crash"))
            except (httpx.TransportError, AssertionError) as exc:
                outcome.append(exc)

        sd.delay, sd.mode = 60.0, "slow"
        asked = len(sd.txt2img_requests)
        running = threading.Thread(target=long_run)
        running.start()
        deadline = time.monotonic() + 30
        while len(sd.txt2img_requests) == asked:  # A is now waiting for its batch of five
            assert time.monotonic() < deadline, "A never asked Stable Diffusion"
            time.sleep(0.05)
        cluster.a.kill()
        running.join(30)
        assert outcome and isinstance(outcome[0], httpx.TransportError)
        sd.mode = "ok"
        sd.interrupt()
        for flyer_id, content in originals.items():
            assert fetch(cluster.b.url, cluster.key, flyer_id).content == content
            through = fetch(cluster.url, cluster.key, flyer_id)  # nginx skips the dead one
            assert through.status_code == 200 and through.content == content
        # the balancer sends new work to B, and the shared accounting is whole
        new = make_flyers(cluster.url, cluster.key, batch=2, title="After the crash")
        assert all(fetch(cluster.b.url, cluster.key, i).status_code == 200 for i in new)
        client = redis.Redis.from_url(cluster.redis.url)
        indexed = {m.decode() for m in client.zrange(f"{cluster.prefix}:index", 0, -1)}
        assert indexed == set(made_on_a) | set(new)  # nothing half-stored by the dead replica
