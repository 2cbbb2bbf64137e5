"""The test services themselves: a real SeaweedFS S3 server and a real Redis."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import services
from services import RedisServer, SeaweedS3, ServiceError, free_port


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _listening(pid: int) -> set[tuple[str, int, str]]:
    """(address, port, proto) of every TCP listener / UDP socket of ``pid``."""
    inodes = _socket_inodes(pid)
    found = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        path = Path(f"/proc/net/{proto}")
        if not path.exists():
            continue
        for row in path.read_text().splitlines()[1:]:
            f = row.split()
            local, state, inode = f[1], f[3], f[9]
            if inode not in inodes:
                continue
            if proto.startswith("tcp") and state != "0A":  # 0A = LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            if len(addr_hex) == 8:
                addr = socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr_hex)[::-1])
            else:
                raw = bytes.fromhex(addr_hex)
                addr = socket.inet_ntop(
                    socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            found.add((addr, int(port_hex, 16), proto))
    return found


def _redis_ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        return s.recv(64)


# --------------------------------------------------------------------------
# SeaweedFS
# --------------------------------------------------------------------------

def test_free_port_is_bindable_on_loopback():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_constructor_does_no_io(tmp_path):
    d = tmp_path / "not-yet"
    store = SeaweedS3(d)
    assert not d.exists()
    assert not store.running
    with pytest.raises(ServiceError):
        store.endpoint_url  # no port before start()
    store.stop()  # harmless when never started


def test_s3_roundtrip_restart_and_kill(tmp_path):
    store = SeaweedS3(tmp_path / "s3")
    with store:
        assert store.startup_seconds < 30
        assert store.endpoint_url == f"http://127.0.0.1:{store.port}"
        assert (tmp_path / "s3" / "weed.log").stat().st_size > 0

        # Only loopback, only the ports we chose.
        chosen = {p for base in store.ports.values() for p in (base, base + 10000)}
        socks = _listening(store.pid)
        assert socks, "weed has no listening socket?"
        assert {addr for addr, _, _ in socks} == {"127.0.0.1"}, socks
        assert {port for _, port, _ in socks} <= chosen, socks
        assert store.port in {port for _, port, _ in socks}

        s3 = store.client()
        store.create_bucket("news-archive")
        store.create_bucket("news-archive")  # idempotent

        nested = "articles/ab/abcdef.json"
        unicode_key = "articles/ü/新闻-ñ 😀.json"
        s3.put_object(Bucket="news-archive", Key=nested, Body=b'{"id": "abcdef"}',
                      ContentType="application/json")
        s3.put_object(Bucket="news-archive", Key=unicode_key, Body="ünïcode".encode())

        assert s3.get_object(Bucket="news-archive", Key=nested)["Body"].read() == b'{"id": "abcdef"}'
        assert s3.get_object(Bucket="news-archive", Key=unicode_key)["Body"].read() == "ünïcode".encode()
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="news-archive")["Contents"]]
        assert sorted(keys) == sorted([nested, unicode_key])
        listing = s3.list_objects_v2(Bucket="news-archive", Prefix="articles/", Delimiter="/")
        assert {p["Prefix"] for p in listing["CommonPrefixes"]} == {"articles/ab/", "articles/ü/"}

        s3.delete_object(Bucket="news-archive", Key=unicode_key)
        with pytest.raises(ClientError) as err:
            s3.get_object(Bucket="news-archive", Key=unicode_key)
        assert err.value.response["Error"]["Code"] == "NoSuchKey"

        # Clean restart: same port, same data, the old client still works.
        port, pid = store.port, store.pid
        store.restart()
        assert store.port == port and store.pid != pid
        assert s3.get_object(Bucket="news-archive", Key=nested)["Body"].read() == b'{"id": "abcdef"}'
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["news-archive"]

        # Crash (SIGKILL) and back: start() waits until the master knows the
        # volumes again, so the very first GET works.
        store.kill()
        assert not store.running
        store.start()
        assert store.port == port
        assert s3.get_object(Bucket="news-archive", Key=nested)["Body"].read() == b'{"id": "abcdef"}'
        pid = store.pid
    assert not store.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_credentials_are_enforced_and_exported(tmp_path):
    import boto3

    with SeaweedS3(tmp_path / "s3") as store:
        env = store.env()
        assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
        assert env["AWS_DEFAULT_REGION"] == "us-east-1"
        assert env["AWS_ENDPOINT_URL_S3"] == store.endpoint_url
        store.create_bucket("creds")

        # What a crawler subprocess would build from env() alone.
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        c = session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"])
        c.put_object(Bucket="creds", Key="k.json", Body=b"1")

        wrong = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong",
            region_name="us-east-1").client("s3", endpoint_url=store.endpoint_url)
        with pytest.raises(ClientError) as err:
            wrong.get_object(Bucket="creds", Key="k.json")
        assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_two_servers_side_by_side(tmp_path):
    with SeaweedS3(tmp_path / "a") as a, SeaweedS3(tmp_path / "b") as b:
        ports_a = {p for base in a.ports.values() for p in (base, base + 10000)}
        ports_b = {p for base in b.ports.values() for p in (base, base + 10000)}
        assert not ports_a & ports_b
        a.create_bucket("only-in-a")
        assert [x["Name"] for x in a.client().list_buckets()["Buckets"]] == ["only-in-a"]
        assert b.client().list_buckets()["Buckets"] == []


def test_many_buckets_with_data(tmp_path):
    """Each non-empty bucket takes a volume of its own: 120 must fit.

    With -volume.max=100 the 100th bucket fails with InternalError ("No
    writable volumes and no free volumes left"). The first PUT into a new
    bucket costs ~0.2 s (volume growth), so this takes ~25 s.
    """
    n = 120
    with SeaweedS3(tmp_path / "s3") as store:
        s3 = store.client()
        t0 = time.monotonic()
        for i in range(n):
            name = f"bulk-{i:03d}"
            store.create_bucket(name)
            s3.put_object(Bucket=name, Key="articles/ab/abcdef.json", Body=b"{}")
        elapsed = time.monotonic() - t0
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert len([x for x in names if x.startswith("bulk-")]) == n
        assert s3.get_object(Bucket=f"bulk-{n - 1:03d}", Key="articles/ab/abcdef.json")["Body"].read() == b"{}"
        print(f"{n} buckets + first PUT each: {elapsed:.1f}s")
        assert elapsed < 55


def test_observed_key_restrictions(tmp_path):
    """SeaweedFS stores keys as filer paths; document what that changes."""
    with SeaweedS3(tmp_path / "s3") as store:
        store.create_bucket("keys")
        s3 = store.client(retries={"max_attempts": 1})

        def code(key: str) -> str | None:
            try:
                s3.put_object(Bucket="keys", Key=key, Body=b"x")
            except ClientError as exc:
                return exc.response["Error"]["Code"]
            return None

        assert code("s/" + "a" * 255) is None
        assert code("s/" + "b" * 256) == "KeyTooLongError"        # per segment, bytes
        assert code("s/" + "é" * 128) == "KeyTooLongError"        # 256 UTF-8 bytes
        assert code("/".join(["d" * 200] * 5) + "/" + "e" * 30) == "KeyTooLongError"  # > 1024
        assert code("x/../y") == "InvalidRequest"
        assert code("x/./y") == "InvalidRequest"

        # '//' collapses: "x//y" and "x/y" are the same object.
        s3.put_object(Bucket="keys", Key="x//y", Body=b"double")
        assert s3.get_object(Bucket="keys", Key="x/y")["Body"].read() == b"double"
        # A trailing '/' makes a directory marker: the body is dropped.
        s3.put_object(Bucket="keys", Key="dir/", Body=b"lost")
        assert s3.get_object(Bucket="keys", Key="dir/")["Body"].read() == b""
        # A path and a "directory" of the same name can coexist.
        s3.put_object(Bucket="keys", Key="conf/a", Body=b"file")
        s3.put_object(Bucket="keys", Key="conf/a/b", Body=b"child")
        assert s3.get_object(Bucket="keys", Key="conf/a")["Body"].read() == b"file"


def test_restart_when_ports_were_taken_meanwhile(tmp_path):
    store = SeaweedS3(tmp_path / "s3")
    with store:
        pass
    s3_port, filer_port = store.ports["s3"], store.ports["filer"]
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", filer_port + 10000))  # an internal gRPC port
        squatter.listen()
        with store:  # internal ports are re-picked, the S3 port is kept
            assert store.port == s3_port
            assert store.ports["filer"] != filer_port
            store.create_bucket("still-works")
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", s3_port))
        squatter.listen()
        with pytest.raises(ServiceError, match=f"S3 port {s3_port} .* already in use"):
            store.start()
    assert not store.running


def test_weed_failure_shows_log_tail(tmp_path, monkeypatch):
    real = SeaweedS3.command
    monkeypatch.setattr(SeaweedS3, "command",
                        lambda self, weed="weed": real(self, weed) + ["-no.such.flag=1"])
    with pytest.raises(ServiceError) as err:
        SeaweedS3(tmp_path / "s3").start(timeout=20)
    msg = str(err.value)
    assert "exited during start-up" in msg
    assert "weed.log" in msg and "no.such.flag" in msg


def test_missing_weed_binary_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(services.sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceError, match="'weed' not found"):
        SeaweedS3(tmp_path / "s3").start()


# --------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------

def test_redis_start_ping_stop(tmp_path):
    redis = RedisServer(tmp_path / "redis")
    with redis:
        assert redis.url == f"redis://127.0.0.1:{redis.port}/0"
        assert _redis_ping(redis.port) == b"+PONG\r\n"
        socks = _listening(redis.pid)
        assert socks == {("127.0.0.1", redis.port, "tcp")}, socks
        pid = redis.pid
    assert not redis.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(OSError):
        _redis_ping(redis.port)


def test_redis_without_data_dir_cleans_up():
    redis = RedisServer()
    redis.start()
    d = redis.data_dir
    assert d.is_dir()
    assert _redis_ping(redis.port) == b"+PONG\r\n"
    redis.stop()
    assert not d.exists()


def test_redis_failure_shows_log_tail(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(ServiceError) as err:
            RedisServer(tmp_path / "redis", port=port).start(timeout=10)
    msg = str(err.value)
    assert "exited during start-up" in msg
    assert "redis.log" in msg and "Address already in use" in msg


def test_missing_redis_server_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceError, match="redis-server not found on PATH"):
        RedisServer(tmp_path / "redis").start()
