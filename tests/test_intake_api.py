"""The intake API through Flask's test client, without scoring (the worker is not started): tokens and their
separation from judges' sessions, idempotent retries, 409 and replacement, photos added later, 413/422/429,
path-like names, the results' bytes, the judges' list, and the OpenAPI document."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest

from intake_helpers import (PASSWORD, bearer, entry_form, files_under, jpeg, make_ws, png, post_entry)
from pipeline import export
from pipeline.api import spec
from pipeline.cli import main as cli_main
from pipeline.config import Config, IntakeConfig
from pipeline.review.app import create_app
from pipeline.store import Workspace, intake

ENTRY = {"entry_id": "HUE-0001", "participant": "Lê Thị Hoa", "kind": "collective", "event_date": "2026-06-02",
         "submitted_at": "2026-06-02T20:00:00+07:00", "location": {"lat": 16.46, "lon": 107.59},
         "reported": {"participants": 4, "kg": 3.5}}


@pytest.fixture()
def api(tmp_path):
    """(Flask test client, tokens by name, workspace root) with small limits."""
    root = tmp_path / "ws"
    tokens = make_ws(root, tokens=("app", "other"))
    cfg = Config(intake=IntakeConfig(max_photo_bytes=200_000, max_photos_per_role=3, rate_burst=1000))
    app = create_app(root, warm=False, cfg=cfg)
    return app.test_client(), tokens, root


def _entries(root):
    with Workspace(root) as ws:
        return ws.entry_ids()


# ------------------------------------------------------------------------------------------------- tokens
def test_every_api_route_but_health_needs_a_valid_token(api):
    c, tokens, root = api
    for method, url in (("get", "/api/v1/entries/X"), ("get", "/api/v1/results"), ("post", "/api/v1/entries"),
                        ("post", "/api/v1/entries/X/photos")):
        for headers in ({}, {"Authorization": "Bearer cvt_not-a-token"}, {"Authorization": tokens["app"]},
                        {"Authorization": f"Basic {tokens['app']}"}):
            r = getattr(c, method)(url, headers=headers)
            assert r.status_code == 401, (url, headers, r.status_code)
            assert r.json["error"] == "unauthorized" and r.headers["WWW-Authenticate"].startswith("Bearer")
    health = c.get("/api/v1/health")
    assert health.status_code == 200 and health.json == {"status": "ok", "queue": 0, "worker": "stopped"}
    assert c.get("/api/v1/entries/X", headers=bearer(tokens["app"])).status_code == 404


def test_revoked_token_gets_401_and_the_cli_never_shows_a_stored_token(api, capsys):
    c, tokens, root = api
    assert cli_main(["tokens", "add", "partner", "--workspace", str(root)]) == 0
    token = capsys.readouterr().out.strip()
    assert re.fullmatch(r"cvt_[A-Za-z0-9_-]{40,}", token)
    assert token.encode() not in (root / "workspace.db").read_bytes()  # stored hashed only
    assert c.get("/api/v1/results", headers=bearer(token)).status_code == 200
    assert cli_main(["tokens", "list", "--workspace", str(root)]) == 0
    listed = capsys.readouterr().out
    assert "partner" in listed and token not in listed and "valid" in listed
    assert cli_main(["tokens", "revoke", "partner", "--workspace", str(root)]) == 0
    r = c.get("/api/v1/results", headers=bearer(token))
    assert r.status_code == 401 and "revoked" in r.json["message"]
    assert cli_main(["tokens", "add", "partner", "--workspace", str(root)]) == 2  # names are not reused
    capsys.readouterr()
    assert cli_main(["tokens", "list", "--workspace", str(root)]) == 0
    assert re.search(r"partner\tcreated \S+\trevoked ", capsys.readouterr().out)
    assert c.get("/api/v1/results", headers=bearer(tokens["app"])).status_code == 200  # others unaffected


def test_a_token_cannot_use_the_app_and_a_judges_session_cannot_post(api):
    c, tokens, root = api
    r = c.get("/", headers=bearer(tokens["app"]))
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = c.post("/entry/decide", headers=bearer(tokens["app"]), data={"entry_id": "X"})
    assert r.status_code in (400, 403)
    page = c.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": csrf}).status_code == 302
    assert c.get("/").status_code == 200  # signed in as a judge
    r = c.post("/api/v1/entries", data=entry_form(ENTRY, [(jpeg(1), "b.jpg")]), content_type="multipart/form-data")
    assert r.status_code == 401
    assert _entries(root) == [] and not (root / "intake").exists()


# ---------------------------------------------------------------------------------------- posting
def test_post_is_stored_queued_and_a_retry_answers_200_with_one_entry(api):
    c, tokens, root = api
    r = post_entry(c, tokens["app"], ENTRY, [(jpeg(1), "b1.jpg"), (png(2), "b2.png")], [(jpeg(3), "a1.jpg")])
    assert r.status_code == 202, r.json
    assert r.json == {"entry_id": "HUE-0001", "status": "queued", "url": "/api/v1/entries/HUE-0001", "generation": 1}
    stored = files_under(root / "intake")
    assert len(stored) == 3 and all(re.fullmatch(r"photos/[0-9a-f]{2}/[0-9a-f]{64}", p) for p in stored)
    # the retry after a lost response: same fields, same bytes (other file names)
    again = post_entry(c, tokens["app"], ENTRY, [(png(2), "x.png"), (jpeg(1), "y.jpg")], [(jpeg(3), "z.jpg")])
    assert again.status_code == 200 and again.json["status"] == "queued" and again.json["record"] is None
    assert _entries(root) == ["HUE-0001"] and files_under(root / "intake") == stored
    with Workspace(root) as ws:
        e = intake.get(ws, "HUE-0001")
        assert e.generation == 1 and e.state == "queued" and intake.queue_length(ws) == 1
        sub = ws.submission("HUE-0001")
    # recorded as its batch folder would be: fields as entry.json gives them, photos by path
    assert sub.kind == "collective" and sub.reported.kg == 3.5 and sub.location.lat == 16.46
    assert [p.rel_path for p in sub.photos] == ["HUE-0001/after/a1.jpg", "HUE-0001/before/b1.jpg",
                                                "HUE-0001/before/b2.png"]
    got = c.get("/api/v1/entries/HUE-0001", headers=bearer(tokens["app"])).json
    assert got["status"] == "queued" and [p["name"] for p in got["photos"]] == [p.rel_path for p in sub.photos]
    assert c.get("/api/v1/health").json["queue"] == 1


def test_a_changed_repost_is_409_unless_it_says_replace_and_old_photos_stay(api):
    c, tokens, root = api
    assert post_entry(c, tokens["app"], ENTRY, [(jpeg(1), "b.jpg")]).status_code == 202
    before = files_under(root / "intake")
    for changed in ({**ENTRY, "participant": "Someone else"}, ENTRY):
        photos = [(jpeg(1), "b.jpg")] if changed is not ENTRY else [(jpeg(9), "b.jpg")]
        r = post_entry(c, tokens["app"], changed, photos)
        assert r.status_code == 409 and r.json["error"] == "conflict" and "replace=true" in r.json["message"]
    with Workspace(root) as ws:
        assert intake.get(ws, "HUE-0001").generation == 1
        assert ws.submission("HUE-0001").participant == "Lê Thị Hoa"
    r = post_entry(c, tokens["app"], ENTRY, [(jpeg(9), "new.jpg")], query="?replace=true")
    assert r.status_code == 202 and r.json["generation"] == 2
    assert before < files_under(root / "intake")  # the old photo's file is kept, for dedup
    with Workspace(root) as ws:
        e = intake.get(ws, "HUE-0001")
        assert e.state == "queued" and [p.name for p in e.photos] == ["HUE-0001/before/new.jpg"]
        assert [p.rel_path for p in ws.entry_photos("HUE-0001")] == ["HUE-0001/before/new.jpg"]
    assert post_entry(c, tokens["app"], ENTRY, [(jpeg(9), "new.jpg")], query="?replace=maybe").status_code == 422


def test_after_photos_can_follow_the_entry(api):
    c, tokens, root = api
    r = post_entry(c, tokens["app"], ENTRY, [(jpeg(1), "b.jpg")])
    assert r.status_code == 202
    assert c.get(r.json["url"], headers=bearer(tokens["app"])).json["awaiting_after"] is True
    url = "/api/v1/entries/HUE-0001/photos"
    add = lambda *photos: c.post(url, data={"after": [(io.BytesIO(b), n) for b, n in photos]},  # noqa: E731
                                 headers=bearer(tokens["app"]), content_type="multipart/form-data")
    r = add((jpeg(5), "a.jpg"))
    assert r.status_code == 202 and r.json["generation"] == 2
    assert add((jpeg(5), "again.jpg")).status_code == 200  # a retry: nothing added
    assert add((jpeg(6), "a.jpg")).status_code == 202  # another photo of the same name gets its own name
    got = c.get("/api/v1/entries/HUE-0001", headers=bearer(tokens["app"])).json
    assert [p["name"] for p in got["photos"] if p["role"] == "after"] == ["HUE-0001/after/a-2.jpg",
                                                                          "HUE-0001/after/a.jpg"]
    assert got["awaiting_after"] is False and got["generation"] == 3
    assert add((jpeg(7), "c.jpg"), (jpeg(8), "d.jpg")).status_code == 413  # 4 after photos > 3
    missing = c.post("/api/v1/entries/NOPE/photos", data={"after": [(io.BytesIO(jpeg(5)), "a.jpg")]},
                     headers=bearer(tokens["app"]), content_type="multipart/form-data")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    with Workspace(root) as ws:
        assert [p.rel_path for p in ws.entry_photos("HUE-0001")] == [
            "HUE-0001/after/a-2.jpg", "HUE-0001/after/a.jpg", "HUE-0001/before/b.jpg"]


# ------------------------------------------------------------------------------------------ refusals
def _refused(c, root, token, status, entry, before, after=(), **expect):
    r = post_entry(c, token, entry, before, after)
    assert r.status_code == status, (r.status_code, r.json)
    for k, v in expect.items():
        assert r.json.get(k) == v, (k, r.json)
    assert _entries(root) == [] and not (root / "intake").exists()  # nothing changed
    return r.json


def test_sizes_and_counts_over_the_limits_are_413_and_change_nothing(api):
    c, tokens, root = api
    from PIL import Image
    noise = Image.effect_noise((600, 600), 100).convert("RGB")
    buf = io.BytesIO()
    noise.save(buf, "JPEG", quality=100)
    big = buf.getvalue()
    assert len(big) > 200_000
    j = _refused(c, root, tokens["app"], 413, ENTRY, [(jpeg(1), "ok.jpg"), (big, "huge.jpg")], field="before",
                 file="huge.jpg")
    assert j["error"] == "too_large"
    _refused(c, root, tokens["app"], 413, ENTRY, [(jpeg(i), f"{i}.jpg") for i in range(4)], field="before")
    _refused(c, root, tokens["app"], 413, ENTRY, [(jpeg(1), "b.jpg")], [(jpeg(i), f"{i}.jpg") for i in range(4)],
             field="after")


def test_not_an_image_by_content_is_422_naming_the_file(api):
    c, tokens, root = api
    j = _refused(c, root, tokens["app"], 422, ENTRY, [(jpeg(1), "ok.jpg"), (b"<html>hello</html>", "IMG_2.jpg")],
                 field="before", file="IMG_2.jpg", index=1, code="PHOTO_NOT_IMAGE")
    assert "IMG_2.jpg" in j["message"]
    _refused(c, root, tokens["app"], 422, ENTRY, [(jpeg(1), "b.jpg")], [(b"", "empty.jpg")], file="empty.jpg")
    gif = io.BytesIO()
    from PIL import Image
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    _refused(c, root, tokens["app"], 422, ENTRY, [(gif.getvalue(), "x.jpg")], code="PHOTO_UNSUPPORTED")
    # the content decides, not the name: a PNG named .txt is a photo, shown with its content's extension
    r = post_entry(c, tokens["app"], ENTRY, [(png(1), "scan.txt")])
    assert r.status_code == 202
    with Workspace(root) as ws:
        assert [p.rel_path for p in ws.entry_photos("HUE-0001")] == ["HUE-0001/before/scan.txt.png"]


@pytest.mark.parametrize("entry,field", [
    ({k: v for k, v in ENTRY.items() if k != "entry_id"}, "entry_id"),
    ({**ENTRY, "entry_id": "   "}, "entry_id"),
    ({**ENTRY, "entry_id": "../etc/passwd"}, "entry_id"),
    ({**ENTRY, "entry_id": 42}, "entry_id"),
    ({**ENTRY, "location": {"lat": 123.0}}, "location.lat"),
    ({**ENTRY, "location": "Huế"}, "location"),
    ({**ENTRY, "reported": {"participants": 2.5}}, "reported.participants"),
    ({**ENTRY, "reported": {"kg": -1}}, "reported.kg"),
    ({**ENTRY, "kind": "solo"}, "kind"),
    ({**ENTRY, "kind": "Collective"}, "kind"),
    ({**ENTRY, "event_date": "02/06/2026"}, "event_date"),
    ({**ENTRY, "submitted_at": "yesterday"}, "submitted_at"),
    ({**ENTRY, "participnat": "typo"}, "participnat"),
    ({**ENTRY, "team": ["a"]}, "team"),
])
def test_missing_or_invalid_entry_fields_are_422_naming_the_field(api, entry, field):
    c, tokens, root = api
    j = _refused(c, root, tokens["app"], 422, entry, [(jpeg(1), "b.jpg")], field=field)
    assert j["error"] == "invalid" and field in j["message"]


def test_malformed_posts_are_refused_with_json(api):
    c, tokens, root = api
    h = bearer(tokens["app"])
    r = c.post("/api/v1/entries", data={"entry": "{not json", "before": [(io.BytesIO(jpeg(1)), "b.jpg")]},
               headers=h, content_type="multipart/form-data")
    assert r.status_code == 422 and r.json["field"] == "entry"
    r = c.post("/api/v1/entries", data={"entry": json.dumps(ENTRY)}, headers=h, content_type="multipart/form-data")
    assert r.status_code == 422 and r.json["field"] == "before"
    r = c.post("/api/v1/entries", data={"entry": json.dumps(ENTRY), "photos": [(io.BytesIO(jpeg(1)), "b.jpg")]},
               headers=h, content_type="multipart/form-data")
    assert r.status_code == 422 and r.json["field"] == "photos"
    r = c.post("/api/v1/entries", json=ENTRY, headers=h)
    assert r.status_code == 415 and r.json["error"] == "unsupported_media_type"
    assert c.get("/api/v1/nowhere", headers=h).json["error"] == "not_found"
    assert c.delete("/api/v1/entries/X", headers=h).status_code == 405
    assert _entries(root) == [] and not (root / "intake").exists()


def test_path_like_file_names_are_never_used_as_paths(api, tmp_path):
    c, tokens, root = api
    names = ["../../evil.jpg", "/etc/passwd", "sub/../../x.jpg", ".hidden.jpg", "../.."]
    r = post_entry(c, tokens["app"], ENTRY, [(jpeg(i), n) for i, n in enumerate(names[:3])],
                   [(jpeg(10 + i), n) for i, n in enumerate(names[3:])])
    assert r.status_code == 202, r.json
    with Workspace(root) as ws:
        rels = sorted(p.rel_path for p in ws.entry_photos("HUE-0001"))
    assert rels == ["HUE-0001/after/photo-1.jpg", "HUE-0001/after/photo-2.jpg", "HUE-0001/before/evil.jpg",
                    "HUE-0001/before/passwd.jpg", "HUE-0001/before/x.jpg"]
    assert not any("evil" in p or p.endswith("x.jpg") for p in files_under(tmp_path))  # no file under a client's name
    assert all(p.startswith("photos/") for p in files_under(root / "intake"))


@pytest.mark.parametrize("raw,fmt,expected", [
    ("..\\..\\evil.jpg", "JPEG", "evil.jpg"),
    ("C:\\Users\\x\\IMG 1.JPG", "JPEG", "IMG 1.JPG"),
    ("a\x00b\nc.jpg", "JPEG", "abc.jpg"),
    ("", "PNG", "photo-3.png"),
    ("..", "JPEG", "photo-3.jpg"),
    ("photo", "HEIF", "photo.heic"),
    ("x" * 300 + ".jpg", "JPEG", "x" * 116 + ".jpg"),
])
def test_safe_name_keeps_a_base_name_only(raw, fmt, expected):
    from pipeline.api.uploads import safe_name

    assert safe_name(raw, fmt, 2) == expected


def test_rate_limit_per_token_is_429_with_retry_after(tmp_path):
    root = tmp_path / "ws"
    tokens = make_ws(root, tokens=("app", "other"))
    app = create_app(root, warm=False, cfg=Config(intake=IntakeConfig(rate_burst=3, rate_per_minute=6)))
    c = app.test_client()
    codes = [c.get("/api/v1/results", headers=bearer(tokens["app"])).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = c.get("/api/v1/results", headers=bearer(tokens["app"]))
    assert r.status_code == 429 and r.json["error"] == "rate_limited" and 1 <= int(r.headers["Retry-After"]) <= 10
    assert c.get("/api/v1/results", headers=bearer(tokens["other"])).status_code == 200  # per token
    assert c.get("/api/v1/health").status_code == 200  # no token, no limit


# ------------------------------------------------------------------------------------------- results
def test_results_are_the_export_byte_for_byte(tmp_path):
    from wsfactory import make_workspace

    root = tmp_path / "ws"
    make_workspace(root, 9, seed=3, hostile=True, thumbs=False)
    tokens = make_ws(root)
    c = create_app(root, warm=False).test_client()
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"export.{fmt}"
        assert cli_main(["export", "--workspace", str(root), "--format", fmt, "--out", str(out)]) == 0
        r = c.get(f"/api/v1/results?format={fmt}", headers=bearer(tokens["app"]))
        assert r.status_code == 200 and r.data == out.read_bytes() and len(r.data) > 1000
    assert c.get("/api/v1/results", headers=bearer(tokens["app"])).data == (tmp_path / "export.jsonl").read_bytes()
    assert c.get("/api/v1/results?format=xml", headers=bearer(tokens["app"])).status_code == 422
    with Workspace(root) as ws:
        first = export.records(ws)[1]
    got = c.get(f"/api/v1/entries/{first['entry_id']}", headers=bearer(tokens["app"])).json
    assert got["record"] == json.loads(json.dumps(first)) and got["status"] == first["status"]


def test_judges_see_arriving_entries_with_their_status(api):
    c, tokens, root = api
    assert post_entry(c, tokens["app"], ENTRY, [(jpeg(1), "b.jpg")]).status_code == 202
    page = c.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": csrf})
    html = c.get("/").text
    assert "HUE-0001" in html and "arrived, waiting to be scored" in html
    assert c.get("/entry?id=HUE-0001").status_code == 200  # its page opens before it is scored
    with Workspace(root) as ws:
        intake.claim(ws, 5)
    assert "being scored" in c.get("/").text


# ------------------------------------------------------------------------------------------- OpenAPI
def test_openapi_document_validates_and_lists_every_route(api):
    from jsonschema import Draft202012Validator
    from openapi_spec_validator import validate

    c, tokens, root = api
    doc = c.get("/api/v1/openapi.json").json
    validate(doc)
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    served = {(m, re.sub(r"<(\w+)>", r"{\1}", rule.rule[len("/api/v1"):]))
              for rule in c.application.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served and len(served) == len(spec.ROUTES)
    # the entry schema is the validator's: it accepts what the API accepts and refuses what it refuses
    schema = Draft202012Validator(doc["components"]["schemas"]["Entry"])
    assert schema.is_valid(ENTRY)
    for bad in ({**ENTRY, "location": {"lat": 123.0}}, {**ENTRY, "participnat": "x"}, {"participant": "no id"}):
        assert not schema.is_valid(bad)
        assert post_entry(c, tokens["app"], bad, [(jpeg(1), "b.jpg")]).status_code == 422
    body = doc["paths"]["/entries"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["properties"]["before"]["maxItems"] == 3  # the configured limit


def test_tokens_add_prints_the_token_on_stdout_only(tmp_path):
    root = tmp_path / "ws"
    make_ws(root, tokens=(), judge=None)
    p = subprocess.run([sys.executable, "-m", "pipeline", "tokens", "add", "hue-s", "--workspace", str(root)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.count("cvt_") == 1 and "cvt_" not in p.stderr and "hue-s" in p.stderr


# ------------------------------------------------------------------------------------- the queue's states
def test_queue_claims_finishes_recovers_and_requeues_changed_entries(api):
    """The queue's life without a run: a killed worker's claims come back; an entry changed while it was
    being scored is queued again; rescans of entries sharing photos do not cascade."""
    c, tokens, root = api
    for i in range(3):
        assert post_entry(c, tokens["app"], {**ENTRY, "entry_id": f"E{i}"}, [(jpeg(i), "b.jpg")]).status_code == 202
    with Workspace(root) as ws:
        first = intake.claim(ws, 2)
        assert [e.entry_id for e in first] == ["E0", "E1"] and intake.waiting(ws) == {
            "E0": "processing", "E1": "processing", "E2": "queued"}
        assert intake.recover(ws) == 2  # the server was killed: its claims go back to the queue
        assert intake.waiting(ws) == {"E0": "queued", "E1": "queued", "E2": "queued"}
        first = intake.claim(ws, 2)
    # E1 changes while it is being scored
    assert post_entry(c, tokens["app"], {**ENTRY, "entry_id": "E1"}, [(jpeg(7), "b.jpg")],
                      query="?replace=true").status_code == 202
    with Workspace(root) as ws:
        assert intake.get(ws, "E1").state == "processing"
        intake.finish(ws, first, rescan={"E2"})  # E2 is queued already: stays a plain queued entry
        assert intake.waiting(ws) == {"E1": "queued", "E2": "queued"}
        assert intake.get(ws, "E0").done_generation == 1 and intake.get(ws, "E1").done_generation == 1
        second = intake.claim(ws, 5)
        assert [(e.entry_id, e.generation, e.rescan) for e in second] == [("E2", 1, False), ("E1", 2, False)]
        intake.finish(ws, second, rescan={"E0", "NOT-POSTED"})
        assert intake.waiting(ws) == {"E0": "queued"} and intake.get(ws, "E0").rescan
        intake.release(ws, intake.claim(ws, 5))  # a run that failed as a whole
        assert intake.waiting(ws) == {"E0": "queued"} and intake.queue_length(ws) == 1


def _noise_jpeg(side: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.effect_noise((side, side), 100).convert("RGB").save(buf, "JPEG", quality=98)
    return buf.getvalue()


def test_large_photos_within_the_limits_pass_and_a_body_over_the_servers_limit_is_json_413(tmp_path):
    root = tmp_path / "ws"
    tokens = make_ws(root)
    big = _noise_jpeg(1400)
    assert len(big) > 1024 * 1024  # larger than the review app's own request limit
    c = create_app(root, warm=False).test_client()  # default limits: 25 MB a photo
    assert post_entry(c, tokens["app"], ENTRY, [(big, "big.jpg")]).status_code == 202
    root2 = tmp_path / "ws2"
    tokens2 = make_ws(root2)
    small = create_app(root2, warm=False, cfg=Config(intake=IntakeConfig(max_photo_bytes=1000,
                                                                         max_photos_per_role=1))).test_client()
    r = post_entry(small, tokens2["app"], ENTRY, [(big, "big.jpg")])
    assert r.status_code == 413 and r.json["error"] == "too_large"
    assert not (root2 / "intake").exists()
