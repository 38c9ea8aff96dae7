"""Helpers of the intake API's tests: photos, a workspace with a token and an account, multipart posts."""
from __future__ import annotations

import io
import json
from pathlib import Path

from pipeline.api.tokens import new_token, token_hash
from pipeline.review import auth, decisions
from pipeline.store import Workspace
from pipeline.store.tokens import add_token

PASSWORD = "correct horse battery"


def jpeg(seed: int, side: int = 64) -> bytes:
    """A small JPEG whose bytes depend on ``seed``."""
    from PIL import Image

    im = Image.new("RGB", (side, side), ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    im.putpixel((seed % side, (seed // side) % side), (255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png(seed: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (seed % 256, 10, 200)).save(buf, "PNG")
    return buf.getvalue()


def make_ws(root: Path, tokens: tuple[str, ...] = ("app",), judge: str | None = "ann") -> dict[str, str]:
    """A workspace at ``root`` with tokens (name -> token) and a judge's account."""
    out = {}
    with Workspace(root) as ws:
        for name in tokens:
            token = new_token()
            assert add_token(ws, name, token_hash(token), "2026-06-01T00:00:00Z")
            out[name] = token
        if judge:
            decisions.add_user(ws, judge, "judge", auth.hash_password(PASSWORD))
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def entry_form(entry: dict, before: list[tuple[bytes, str]], after: list[tuple[bytes, str]] = ()) -> dict:
    """The ``data`` of a Flask test client's multipart post of an entry."""
    data: dict = {"entry": json.dumps(entry)}
    if before:
        data["before"] = [(io.BytesIO(b), name) for b, name in before]
    if after:
        data["after"] = [(io.BytesIO(b), name) for b, name in after]
    return data


def post_entry(client, token: str, entry: dict, before, after=(), query: str = ""):
    return client.post("/api/v1/entries" + query, data=entry_form(entry, before, after), headers=bearer(token),
                       content_type="multipart/form-data")


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def folder_entry(folder: Path) -> tuple[dict, list[tuple[bytes, str]], list[tuple[bytes, str]]]:
    """A batch folder's entry as a post: (entry part, before photos, after photos) as (bytes, file name)."""
    meta = json.loads((folder / "entry.json").read_text(encoding="utf-8")) if (folder / "entry.json").exists() else {}
    photos = {role: [(p.read_bytes(), p.name) for p in sorted((folder / role).glob("*")) if p.is_file()]
              if (folder / role).is_dir() else [] for role in ("before", "after")}
    return {"entry_id": folder.name, **meta}, photos["before"], photos["after"]


def http_post_entry(base: str, token: str, entry: dict, before, after=(), timeout: float = 120):
    """Post an entry to a running server with requests (a real multipart client, as an app would)."""
    import requests

    files = [("entry", (None, json.dumps(entry), "application/json"))]
    files += [(role, (name, data, "application/octet-stream"))
              for role, photos in (("before", before), ("after", after)) for data, name in photos]
    return requests.post(f"{base}/api/v1/entries", files=files, headers=bearer(token), timeout=timeout)
