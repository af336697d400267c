# SPDX-License-Identifier: Apache-2.0
"""GET /api/v1/audit/verify tells the console whether the audit chain
verifies (verified / broken at record N / unverifiable), and GET
/api/v1/audit keeps answering the records before a break (with broken_at)
instead of failing the whole page. Tampering is done on the running daemon's
DATA/audit.log, as an intruder with file access would."""
import os
import struct

import pytest
import requests

from conftest import TOKEN

FAST = {"LOOM_PASSWORD_COST": "min"}
PW = "Correct-horse-9"
HEADER = 32      # audit.log file header (sec/audit.h)
FIXED = 56       # record bytes before the payload
OVERHEAD = 88    # record bytes besides the payload


def api(loom, method, path, token=TOKEN, **kw):
    r = requests.request(method, loom.url + "/api/v1" + path,
                         headers={"Authorization": f"Token {token}"}, timeout=60, **kw)
    return r


def ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json() if r.content else None


@pytest.fixture
def srv(loom_factory):
    return loom_factory(env=FAST).start()


def make_events(loom, n, tenant=None):
    """n audited actions (asset creations) in tenant, or in a new tenant
    (whose creation is one more record, the first)."""
    if not tenant:
        tenant = ok(api(loom, "POST", "/tenants", json={"name": "T", "db_name": "t"}), 201)["id"]
    for i in range(n):
        body = {"name": f"asset-{i}", "type": "line", "tenant_id": tenant}
        ok(api(loom, "POST", "/assets", json=body), 201)


def record_offset(data_dir, seq):
    """Byte offset of record seq in DATA/audit.log and its payload length."""
    with open(os.path.join(data_dir, "audit.log"), "rb") as f:
        buf = f.read()
    off = HEADER
    while off < len(buf):
        magic, plen, rseq = struct.unpack_from("<4sIQ", buf, off)
        assert magic == b"LAR1"
        if rseq == seq:
            return off, plen
        off += OVERHEAD + plen
    raise AssertionError(f"record {seq} not found")


def tamper(data_dir, seq):
    """Change one byte inside record seq's payload (its MAC no longer matches)."""
    off, plen = record_offset(data_dir, seq)
    pos = off + FIXED + plen // 2
    with open(os.path.join(data_dir, "audit.log"), "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0x01]))


def test_audit_verify_intact_log_is_verified(srv):
    make_events(srv, 3)
    last = ok(api(srv, "GET", "/audit", params={"pageSize": 1000}))["data"][-1]["seq"]
    v = ok(api(srv, "GET", "/audit/verify"))
    assert v == {"status": "verified", "last_seq": last, "broken_at": None, "reason": None}


def test_audit_verify_tampered_record_is_broken_and_earlier_entries_stay_readable(srv):
    make_events(srv, 5)
    tamper(srv.data_dir, 3)
    v = ok(api(srv, "GET", "/audit/verify"))
    assert v["status"] == "broken" and v["broken_at"] == 3 and v["reason"]
    page = ok(api(srv, "GET", "/audit", params={"pageSize": 100}))
    assert [r["seq"] for r in page["data"]] == [1, 2]
    assert page["broken_at"] == 3 and page["nextSeq"] is None


def test_audit_verify_finds_a_break_past_the_first_index_point(srv):
    make_events(srv, 70)  # the handle indexes every 64th record
    tamper(srv.data_dir, 67)
    v = ok(api(srv, "GET", "/audit/verify"))
    assert v["status"] == "broken" and v["broken_at"] == 67
    # a page that ends before the break still reads normally
    page = ok(api(srv, "GET", "/audit", params={"fromSeq": 60, "pageSize": 5}))
    assert [r["seq"] for r in page["data"]] == [60, 61, 62, 63, 64]
    assert page["nextSeq"] == 65 and "broken_at" not in page
    # the page over the break stops just before it
    page = ok(api(srv, "GET", "/audit", params={"fromSeq": 60, "pageSize": 100}))
    assert [r["seq"] for r in page["data"]] == list(range(60, 67))
    assert page["broken_at"] == 67 and page["nextSeq"] is None


def test_audit_verify_tenant_admin_sees_status_and_only_its_records_before_a_break(srv):
    t = ok(api(srv, "POST", "/tenants", json={"name": "Acme", "db_name": "acme"}), 201)
    ok(api(srv, "POST", "/users", json={"email": "ta@acme.com", "role": "tenant_admin",
                                         "tenant_id": t["id"], "password": PW}), 201)
    s = ok(requests.post(srv.url + "/api/v1/auth/login",
                         json={"username": "ta@acme.com", "password": PW}, timeout=30))["token"]
    make_events(srv, 2, tenant=t["id"])
    b = ok(api(srv, "POST", "/tenants", json={"name": "Other", "db_name": "other"}), 201)
    make_events(srv, 2, tenant=b["id"])
    last = ok(api(srv, "GET", "/audit", params={"pageSize": 1000}))["data"][-1]["seq"]
    tamper(srv.data_dir, last)
    v = ok(api(srv, "GET", "/audit/verify", token=s))
    assert v["status"] == "broken" and v["broken_at"] == last
    page = ok(api(srv, "GET", "/audit", token=s, params={"pageSize": 100}))
    assert page["broken_at"] == last and page["data"]
    assert all(r["event"]["tenant"] == t["id"] for r in page["data"])
    assert all(r["seq"] < last for r in page["data"])
