"""Review app through Flask's test client: sign-in, CSRF, decisions with a version check, corrections,
audit log, accounts, and the YOLO export of corrections."""
from __future__ import annotations

import io
import os
import re
import stat
import threading
from pathlib import Path

import pytest

from pipeline.review import auth, decisions
from pipeline.review.app import create_app
from pipeline.review.corrections_export import corrected_labels, export_corrections
from pipeline.store import Workspace
from pipeline.store import reviews as review_rows
from wsfactory import HOSTILE_PARTICIPANT, make_workspace

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def ws_template(tmp_path_factory):
    root = tmp_path_factory.mktemp("template") / "ws"
    make_workspace(root, 12, seed=5, hostile=True, thumb_side=120)
    with Workspace(root) as ws:
        h = auth.hash_password(PASSWORD)
        decisions.add_user(ws, "ann", "judge", h)
        decisions.add_user(ws, "bao", "judge", h)
    return root


@pytest.fixture()
def ws_path(ws_template, tmp_path):
    """A fresh copy of the template workspace for each test (decisions do not leak between tests)."""
    import shutil
    return Path(shutil.copytree(ws_template, tmp_path / "ws"))


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, name="ann"):
    c = app.test_client()
    tok = csrf(c.get("/login").text)
    r = c.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": tok})
    assert r.status_code == 302
    return c, csrf(c.get("/").text)


def test_every_page_needs_sign_in(ws_path):
    c = create_app(ws_path).test_client()
    for url in ("/", "/audit", "/entry?id=E05-00001", "/thumbs/" + "0" * 64 + ".jpg"):
        r = c.get(url)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login"), url
    assert c.get("/login").status_code == 200


def test_login_form_has_csrf_and_cookie_flags(ws_path):
    app = create_app(ws_path)
    c = app.test_client()
    html = c.get("/login").text
    assert 'name="username"' in html and 'name="password"' in html and 'name="csrf_token"' in html
    # no token: refused before the password is even looked at
    assert c.post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 400
    r = c.post("/login", data={"username": "ann", "password": "wrong password", "csrf_token": csrf(html)})
    assert r.status_code == 401
    r = c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": csrf(html)})
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = create_app(ws_path, secure_cookies=True).test_client()
    r = secure.get("/login")
    assert "Secure" in r.headers["Set-Cookie"]


def test_secret_key_is_generated_once_with_mode_0600(ws_path):
    create_app(ws_path)
    key_file = ws_path / auth.SECRET_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    first = key_file.read_bytes()
    create_app(ws_path)
    assert key_file.read_bytes() == first and len(first) == 32


def test_post_without_valid_csrf_is_refused(ws_path):
    c, tok = signed_in(create_app(ws_path))
    data = {"entry_id": "E05-00001", "base_version": "0", "decision": "accept", "reason": ""}
    assert c.post("/entry/decide", data=data).status_code == 400
    assert c.post("/entry/decide", data={**data, "csrf_token": "x" + tok}).status_code == 400
    with Workspace(ws_path) as ws:
        assert review_rows.entry_reviews(ws, "E05-00001") == []
    assert c.post("/entry/decide", data={**data, "csrf_token": tok}).status_code == 302


def test_override_changes_the_ranking_and_the_audit_log(ws_path):
    c, tok = signed_in(create_app(ws_path))
    last = re.findall(r'href="/entry\?id=([^"&]+)"', c.get("/").text)[-1]
    r = c.post("/entry/decide", data={"entry_id": last, "base_version": "0", "decision": "override",
                                      "score_override": "100", "reason": "photos checked by hand",
                                      "csrf_token": tok})
    assert r.status_code == 302
    first = re.findall(r'href="/entry\?id=([^"&]+)"', c.get("/").text)[0]
    assert first == last
    audit = c.get("/audit").text
    assert "photos checked by hand" in audit and "ann" in audit
    from pipeline.report import views
    with Workspace(ws_path) as ws:
        need = sum(1 for r in views.ranking_rows(ws) if r.status != "scored")
    assert f"1 of {need} entries that need a judge decided" in c.get("/").text  # progress: over what needs a judge


def test_disqualify_moves_entry_last_and_needs_reason(ws_path):
    c, tok = signed_in(create_app(ws_path))
    top = re.findall(r'href="/entry\?id=([^"&]+)"', c.get("/").text)[0]
    bad = c.post("/entry/decide", data={"entry_id": top, "base_version": "0", "decision": "disqualify",
                                        "reason": " ", "csrf_token": tok})
    assert bad.status_code == 400 and "needs a reason" in bad.text
    c.post("/entry/decide", data={"entry_id": top, "base_version": "0", "decision": "disqualify",
                                  "reason": "same photos as last year", "csrf_token": tok})
    html = c.get("/?status=disqualified").text
    assert re.findall(r'href="/entry\?id=([^"&]+)"', html) == [top]
    assert re.findall(r'href="/entry\?id=([^"&]+)"', c.get("/").text)[-1] == top


def test_second_judge_is_told_and_shown_the_first_decision(ws_path):
    app = create_app(ws_path)
    ann, tok_a = signed_in(app, "ann")
    bao, tok_b = signed_in(app, "bao")
    eid = "E05-00002"
    # both open the entry at version 0
    assert 'name="base_version" value="0"' in ann.get("/entry", query_string={"id": eid}).text
    assert 'name="base_version" value="0"' in bao.get("/entry", query_string={"id": eid}).text
    r1 = ann.post("/entry/decide", data={"entry_id": eid, "base_version": "0", "decision": "override",
                                         "score_override": "12.5", "reason": "half the litter left",
                                         "csrf_token": tok_a})
    assert r1.status_code == 302
    r2 = bao.post("/entry/decide", data={"entry_id": eid, "base_version": "0", "decision": "accept",
                                         "reason": "", "csrf_token": tok_b})
    assert r2.status_code == 409
    assert "Another judge decided" in r2.text and "half the litter left" in r2.text and "ann" in r2.text
    assert 'name="base_version" value="1"' in r2.text  # the form now carries the new version
    with Workspace(ws_path) as ws:
        reviews = review_rows.entry_reviews(ws, eid)
    assert [(r.judge, r.version, r.score_override) for r in reviews] == [("ann", 1, 12.5)]


def test_concurrent_decisions_store_exactly_one(ws_path):
    """Eight threads on eight connections decide on one entry from version 0: one wins, seven conflict."""
    results, barrier = [], threading.Barrier(8)

    def judge(i: int) -> None:
        with Workspace(ws_path) as ws:
            barrier.wait()
            results.append(decisions.decide(ws, "E05-00004", f"j{i}", "accept", None, "", base_version=0))

    threads = [threading.Thread(target=judge, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = [r for r in results if r.review is not None]
    assert len(stored) == 1 and len(results) == 8
    assert all(r.conflict == stored[0].review for r in results if r.review is None)


def test_entry_page_escapes_hostile_text(ws_path):
    c, _ = signed_in(create_app(ws_path))
    html = c.get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and HOSTILE_PARTICIPANT not in html
    eid = re.findall(r'href="(/entry\?id=[^"]+)"', html)
    hostile = [u for u in eid if "svg" in u][0]
    page = c.get(hostile.replace("&amp;", "&")).text
    assert "<svg" not in page and "<img src=x" not in page
    assert "before/&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.jpg" in page


def test_security_headers_and_thumb_paths(ws_path):
    c, _ = signed_in(create_app(ws_path))
    r = c.get("/")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert c.get("/thumbs/..%2Fworkspace.db.jpg").status_code == 404
    sha = re.search(r'/thumbs/([0-9a-f]{64})\.jpg', c.get("/entry?id=E05-00001").text).group(1)
    r = c.get(f"/thumbs/{sha}.jpg")
    assert r.status_code == 200 and r.mimetype == "image/jpeg"


def test_login_next_only_goes_to_local_paths(ws_path):
    c = create_app(ws_path).test_client()
    tok = csrf(c.get("/login").text)
    r = c.post("/login?next=//evil.example/x", data={"username": "ann", "password": PASSWORD, "csrf_token": tok})
    assert r.headers["Location"] == "/"


def test_language_switch(ws_path):
    c, _ = signed_in(create_app(ws_path))
    assert "Ranking" in c.get("/").text
    c.get("/lang/vi?next=/")
    assert "Bảng xếp hạng" in c.get("/").text


def test_filters_sort_and_pagination(ws_path):
    app = create_app(ws_path, page_size=5)
    c, _ = signed_in(app)
    html = c.get("/").text
    assert "Page 1 / 3" in html and len(re.findall(r'<tr class="row-', html)) == 5
    assert len(re.findall(r'<tr class="row-', c.get("/?page=3").text)) == 2
    dup = c.get("/?flag=DUPLICATE_PHOTO").text
    rows = re.findall(r'<tr class="row-.*?</tr>', dup, flags=re.S)
    assert rows and all("DUPLICATE_PHOTO" in r for r in rows)
    ids = re.findall(r'href="/entry\?id=([^"&]+)"', c.get("/?sort=entry").text)
    assert ids == sorted(ids)


def test_corrections_stored_and_exported_as_yolo(ws_path, tmp_path):
    c, tok = signed_in(create_app(ws_path))
    with Workspace(ws_path) as ws:  # an entry whose before photo has at least two boxes
        for eid in ws.entry_ids()[1:]:
            sha = ws.entry_photos(eid)[0].sha256
            det = ws.latest_result(sha, "detect")
            n_above = sum(1 for x in det["confidence"] if x >= 0.25)
            if n_above >= 2:
                break
    assert n_above >= 2
    html = c.get("/entry", query_string={"id": eid}).text
    model = re.search(r'name="model_id" value="([^"]+)"', html).group(1)
    r = c.post("/entry/corrections", data={"entry_id": eid, "sha256": sha, "model_id": model,
                                           "not_litter": ["0"], "missed": ["100,200,700,900"], "csrf_token": tok})
    assert r.status_code == 302
    page = c.get("/entry", query_string={"id": eid}).text
    assert page.count("box box-not_litter") == 1 and page.count("box box-missed") == 1
    # a photo of another entry cannot be corrected through this one
    with Workspace(ws_path) as ws:
        other = next(p.sha256 for p in ws.entry_photos("E05-00009") if p.sha256)
    assert other != sha
    assert c.post("/entry/corrections", data={"entry_id": eid, "sha256": other, "model_id": model,
                                              "csrf_token": tok}).status_code == 404
    with Workspace(ws_path) as ws:
        labels = corrected_labels(ws)
        summary = export_corrections(ws, tmp_path / "ds")
    assert [lab.sha256 for lab in labels] == [sha]
    assert len(labels[0].boxes) == n_above - 1 + 1
    lines = (tmp_path / "ds" / "labels" / "train" / f"{sha}.txt").read_text().splitlines()
    assert len(lines) == n_above and summary.images == 1 and summary.boxes == n_above
    cls, cx, cy, w, h = lines[-1].split()
    assert (cls, float(cx), float(cy), float(w), float(h)) == ("0", 0.1, 0.183333, 0.15, 0.233333)
    assert (tmp_path / "ds" / "images" / "train" / f"{sha}.jpg").is_file()
    assert "names:" in (tmp_path / "ds" / "data.yaml").read_text()


def test_export_uses_original_photo_when_reachable(ws_path, tmp_path):
    from PIL import Image
    from pipeline.types import PhotoMeta, PhotoRef, Submission
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buf, "JPEG")
    data = buf.getvalue()
    import hashlib
    sha = hashlib.sha256(data).hexdigest()
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "b.jpg").write_bytes(data)
    with Workspace(ws_path) as ws:
        ws.put_submission(Submission("ORIG", photos=(PhotoRef("ORIG", "before", tmp_path / "batch" / "b.jpg", "b.jpg"),)), "b")
        ws.put_photo(PhotoMeta(sha, len(data), "JPEG", 64, 48), "ORIG", "b.jpg")
        ws.set_entry_photo("ORIG", "b.jpg", sha, None)
        decisions.replace_corrections(ws, sha, "m@1", "ann", [], [(1, 2, 30, 40)], (64, 48))
        s = export_corrections(ws, tmp_path / "ds", images="original")
        assert (s.images, s.originals) == (1, 1)
        (tmp_path / "batch" / "b.jpg").write_bytes(b"changed")
        s = export_corrections(ws, tmp_path / "ds", images="original")
        assert (s.images, s.originals, s.skipped) == (0, 0, 1)  # no thumbnail to fall back on


def test_users_add_command(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main
    make_workspace(tmp_path / "w", 1, seed=1, thumbs=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["users", "add", "chi", "--role", "admin", "--workspace", str(tmp_path / "w")]) == 0
    with Workspace(tmp_path / "w") as ws:
        u = review_rows.get_user(ws, "chi")
    assert u.role == "admin" and u.password_hash.startswith("$argon2id$")
    assert auth.verify_password(u.password_hash, "a long password")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "dan", "--workspace", str(tmp_path / "w")]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["users", "add", "chi", "--workspace", str(tmp_path / "w")]) == 2  # exists
    assert main(["users", "add", "<b>", "--workspace", str(tmp_path / "w")]) == 2


def test_ranking_follows_new_pipeline_results_without_restart(ws_path):
    from pipeline.types import ScoreCard
    c, _ = signed_in(create_app(ws_path))
    last = re.findall(r'href="/entry\?id=([^"&]+)"', c.get("/").text)[-1]
    with Workspace(ws_path) as ws:  # a rerun of the pipeline rescored one entry
        card = ws.scorecard(last)
        d = card.to_dict() if card else ScoreCard(last, None, "error", {}, (), "m", "c").to_dict()
        ws.put_entry_result(last, "score", "rerun", {**d, "score": 99.9, "status": "scored"})
    assert re.findall(r'href="/entry\?id=([^"&]+)"', c.get("/").text)[0] == last


def test_entry_page_links_to_the_next_unreviewed_entry(ws_path):
    c, tok = signed_in(create_app(ws_path))
    order = re.findall(r'href="/entry\?id=([^"&]+)"', c.get("/").text)
    from urllib.parse import unquote_plus
    order = [unquote_plus(o) for o in order]
    c.post("/entry/decide", data={"entry_id": order[1], "base_version": "0", "decision": "accept", "reason": "",
                                  "csrf_token": tok})
    page = c.get("/entry", query_string={"id": order[0]}).text
    nxt = re.search(r'class="next" href="/entry\?id=([^"]+)"', page).group(1)
    assert unquote_plus(nxt) == order[2]  # order[1] is decided already


@pytest.mark.parametrize("decision,score,reason", [
    ("override", None, "why"), ("override", 100.5, "why"), ("override", -1, "why"), ("override", 50, "  "),
    ("accept", 50, ""), ("disqualify", None, ""), ("delete", None, "x"), ("accept", None, "x" * 2001),
])
def test_malformed_decisions_are_refused(decision, score, reason):
    with pytest.raises(decisions.ReviewError):
        decisions.validate_decision(decision, score, reason)


def test_override_out_of_range_through_the_form_is_refused(ws_path):
    c, tok = signed_in(create_app(ws_path))
    r = c.post("/entry/decide", data={"entry_id": "E05-00001", "base_version": "0", "decision": "override",
                                      "score_override": "nan", "reason": "x", "csrf_token": tok})
    assert r.status_code == 400
    r = c.post("/entry/decide", data={"entry_id": "E05-00001", "base_version": "0", "decision": "override",
                                      "score_override": "101", "reason": "x", "csrf_token": tok})
    assert r.status_code == 400 and "between 0 and 100" in r.text
    r = c.post("/entry/decide", data={"entry_id": "no such entry", "base_version": "0", "decision": "accept",
                                      "reason": "", "csrf_token": tok})
    assert r.status_code == 404
    with Workspace(ws_path) as ws:
        assert review_rows.audit_log(ws)[1] == 0


def test_repeated_failed_sign_ins_lock_the_name_then_expire(ws_path):
    now = [1000.0]
    throttle = auth.LoginThrottle(clock=lambda: now[0])
    c = create_app(ws_path, throttle=throttle).test_client()
    tok = csrf(c.get("/login").text)

    def attempt(name, password):
        return c.post("/login", data={"username": name, "password": password, "csrf_token": tok})

    for _ in range(5):
        assert attempt("ann", "guess").status_code == 401
    r = attempt("ANN", PASSWORD)  # even the right password, under any case of the name: locked
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 60
    assert "Too many failed sign-ins" in r.text
    now[0] += 30
    assert attempt("ann", PASSWORD).status_code == 429  # still locked; refusals do not extend the lock
    assert int(c.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": tok})
               .headers["Retry-After"]) == 30
    # another judge from the same address is not locked out by ann's failures
    other = create_app(ws_path, throttle=throttle).test_client()
    t2 = csrf(other.get("/login").text)
    assert other.post("/login", data={"username": "bao", "password": PASSWORD, "csrf_token": t2}).status_code == 302
    now[0] += 31
    assert attempt("ann", "guess again").status_code == 401  # lock over: one more failure ...
    assert attempt("ann", PASSWORD).status_code == 429  # ... locks again, for twice as long
    assert int(attempt("ann", PASSWORD).headers["Retry-After"]) == 120
    now[0] += 121
    assert attempt("ann", PASSWORD).status_code == 302  # success clears the name's failures
    assert throttle.locked_for(*auth.throttle_keys("ann", "127.0.0.1")) == 0


def test_many_names_from_one_address_lock_the_address():
    now = [0.0]
    t = auth.LoginThrottle(clock=lambda: now[0], max_keys=50)
    for i in range(20):
        assert t.locked_for(*auth.throttle_keys(f"user{i}", "10.0.0.9")) == 0
        t.failed(*auth.throttle_keys(f"user{i}", "10.0.0.9"))
    assert t.locked_for(*auth.throttle_keys("ann", "10.0.0.9")) == 60  # the address is locked for every name
    assert t.locked_for(*auth.throttle_keys("ann", "10.0.0.10")) == 0
    for i in range(200):  # random names cannot grow the table without bound
        t.failed(*auth.throttle_keys(f"x{i}", f"10.1.{i}.1"))
    assert len(t._fails) <= 50
    now[0] += 901  # failures older than the window are forgotten
    assert t.locked_for(*auth.throttle_keys("user1", "10.0.0.9")) == 0


# ------------------------------------------------------------------------------ the app as a service
def _review_log(ws_path) -> str:
    p = Path(ws_path) / "logs" / "review.log"
    return p.read_text(encoding="utf-8") if p.exists() else ""


def test_review_log_records_failed_sign_ins_lockouts_decisions_and_corrections(ws_path):
    app = create_app(ws_path)
    anon = app.test_client()
    tok = csrf(anon.get("/login").text)
    for _ in range(5):
        anon.post("/login", data={"username": "ann\nFORGED", "password": "wrong", "csrf_token": tok})
    log = _review_log(ws_path)
    assert log.count("sign-in-failed name='ann\\nFORGED' address='127.0.0.1'") == 5  # escaped: one line each
    assert "FORGED\n" not in log
    assert "sign-in-locked name='ann\\nFORGED' address='127.0.0.1' seconds=60" in log
    anon.post("/login", data={"username": "ann\nFORGED", "password": "wrong", "csrf_token": tok})
    assert "sign-in-refused name='ann\\nFORGED'" in _review_log(ws_path)

    c, tok = signed_in(app)
    eid = re.findall(r'href="/entry\?id=([^"&]+)"', c.get("/").text)[-1]
    c.post("/entry/decide", data={"entry_id": eid, "base_version": "0", "decision": "override",
                                  "score_override": "77", "reason": "checked", "csrf_token": tok})
    c.post("/entry/decide", data={"entry_id": eid, "base_version": "0", "decision": "accept", "reason": "",
                                  "csrf_token": tok})  # stale version: a conflict
    html = c.get("/entry", query_string={"id": eid}).text
    with Workspace(ws_path) as ws:
        sha = next(p.sha256 for p in ws.entry_photos(eid) if p.sha256)
    model = re.search(r'name="model_id" value="([^"]+)"', html).group(1)
    c.post("/entry/corrections", data={"entry_id": eid, "sha256": sha, "model_id": model,
                                       "missed": ["100,200,700,900"], "csrf_token": tok})
    log = _review_log(ws_path)
    assert "INFO sign-in name='ann' address='127.0.0.1'" in log
    assert f"decision judge='ann' entry={eid!r} decision='override' score=77 version=1 reason='checked'" in log
    assert f"decision-conflict judge='ann' entry={eid!r} base_version=0 current_version=1" in log
    assert f"corrections judge='ann' entry={eid!r} photo='{sha[:16]}' model={model!r} not_litter=0 missed=1" in log
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING) [a-z-]+ ", line) for line in log.splitlines())


def test_forwarded_address_is_trusted_only_behind_a_proxy(ws_path):
    for hops, expected in ((0, "127.0.0.1"), (1, "203.0.113.9")):
        c = create_app(ws_path, proxy_hops=hops).test_client()
        tok = csrf(c.get("/login").text)
        c.post("/login", data={"username": f"h{hops}", "password": "wrong", "csrf_token": tok},
               headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
        assert f"sign-in-failed name='h{hops}' address='{expected}'" in _review_log(ws_path)


def test_users_list_passwd_remove(ws_path, monkeypatch, capsys):
    from pipeline.cli import main
    ws = str(ws_path)
    assert main(["users", "list", "--workspace", ws]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ann\tjudge\tcreated ", out, re.M) and re.search(r"^bao\tjudge\t", out, re.M)
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
    assert main(["users", "passwd", "ann", "--workspace", ws]) == 0
    with Workspace(ws_path) as w:
        h = review_rows.get_user(w, "ann").password_hash
    assert auth.verify_password(h, "a brand new password") and not auth.verify_password(h, PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "passwd", "bao", "--workspace", ws]) == 2
    assert main(["users", "passwd", "nobody", "--workspace", ws]) == 2
    c, _ = signed_in(create_app(ws_path), "bao")
    assert main(["users", "remove", "bao", "--workspace", ws]) == 0
    assert c.get("/").status_code == 302  # a removed account is signed out at its next page
    assert main(["users", "remove", "bao", "--workspace", ws]) == 2
    capsys.readouterr()
    assert main(["users", "list", "--workspace", ws]) == 0
    assert "bao" not in capsys.readouterr().out
    log = _review_log(ws_path)
    assert "account-password name='ann'" in log and "account-removed name='bao'" in log


def test_serve_without_accounts_says_how_to_add_one(tmp_path, capsys):
    from pipeline.cli import main
    make_workspace(tmp_path / "w", 1, seed=1, thumbs=False)
    assert main(["serve", "--workspace", str(tmp_path / "w")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no review-app account" in err and "cleanup-verify users add NAME --role admin" in err


def test_serve_uses_waitress_unless_dev(ws_path, monkeypatch):
    import flask
    import waitress
    from pipeline.cli import main
    calls = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: calls.append(("waitress", kw)))
    monkeypatch.setattr(flask.Flask, "run", lambda self, **kw: calls.append(("werkzeug", kw)))
    assert main(["serve", "--workspace", str(ws_path), "--port", "8123"]) == 0
    assert main(["serve", "--workspace", str(ws_path), "--dev"]) == 0
    assert [c[0] for c in calls] == ["waitress", "werkzeug"]
    assert calls[0][1]["port"] == 8123 and calls[0][1]["host"] == "127.0.0.1"


def test_serve_starts_waitress_and_logs_a_failed_sign_in(ws_path):
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.parse
    import urllib.request
    from http.cookiejar import CookieJar

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--workspace", str(ws_path), "--port",
                             str(port)], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        deadline = time.monotonic() + 60
        while True:
            try:
                resp = opener.open(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
                time.sleep(0.2)
        assert resp.status == 200 and resp.headers["Server"] == "cleanup-verify"  # waitress, our ident
        tok = csrf(resp.read().decode())
        data = urllib.parse.urlencode({"username": "mallory", "password": "guess", "csrf_token": tok}).encode()
        try:
            opener.open(f"http://127.0.0.1:{port}/login", data=data, timeout=10)
            raise AssertionError("a wrong password was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 401
        assert "sign-in-failed name='mallory' address='127.0.0.1'" in _review_log(ws_path)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "waitress" in err and "review.log" in err


def test_pending_filter_lists_what_judges_still_have_to_decide(ws_path):
    from pipeline.report import views
    c, tok = signed_in(create_app(ws_path))
    with Workspace(ws_path) as ws:
        rows = views.ranking_rows(ws)
    pending = [r.entry_id for r in rows if r.status != "scored"]
    assert pending and len(pending) < len(rows)
    ids = lambda html: [html_unescape(x) for x in re.findall(r'href="/entry\?id=([^"&]+)"', html)]  # noqa: E731
    assert ids(c.get("/?status=pending").text) == pending  # in ranking order
    c.post("/entry/decide", data={"entry_id": pending[0], "base_version": "0", "decision": "accept", "reason": "",
                                  "csrf_token": tok})
    assert ids(c.get("/?status=pending").text) == pending[1:]


def html_unescape(s: str) -> str:
    import html
    from urllib.parse import unquote_plus
    return unquote_plus(html.unescape(s))


def test_entry_page_draws_the_matched_part_of_a_copy(ws_path):
    """The judges' page shows a copy's matched region (issue 22) over both thumbnails, with its legend."""
    from pipeline.store import matches
    from pipeline.types import DuplicateMatch
    with Workspace(ws_path) as ws:
        ids = ws.entry_ids()
        a, b = ws.entry_photos(ids[1])[0].sha256, ws.entry_photos(ids[2])[1].sha256
        m = DuplicateMatch(b, a, "overlaid", 6, "phash", "other", (0.0, 0.0, 1.0, 1.0), (0.25, 0.125, 0.75, 0.5))
        matches.put_matches(ws, "k", [b], [matches.StoredMatch(b, a, "overlaid", 6, "phash", 0.0,
                                                               m.region, m.other_region)])
        ws.put_entry_result(ids[2], "dedup", "k", {"entry_id": ids[2], "matches": [m.to_dict()], "flags": []})
    c, _ = signed_in(create_app(ws_path))
    for eid, mine, theirs in ((ids[2], "0.0%;top:0.0%;width:100.0%;height:100.0%", "25.0%;top:12.5%;width:50.0%;height:37.5%"),
                              (ids[1], "25.0%;top:12.5%;width:50.0%;height:37.5%", "0.0%;top:0.0%;width:100.0%;height:100.0%")):
        page = c.get(f"/entry?id={eid}").text
        drawn = re.findall(r'<span class="region" style="left:([^"]+)"', page)
        assert drawn[:2] == [mine, theirs], (eid, drawn)
        assert "the matched part" in page
    c.get("/lang/vi")
    assert "phần trùng khớp" in c.get(f"/entry?id={ids[2]}").text
