"""A small Hub-compatible HTTP server on 127.0.0.1 for tests (never shipped).

It answers the routes the real ``huggingface_hub`` client calls (Xet disabled) for dataset and model
repos: create repo, validate-yaml, preupload, git-LFS batch + basic upload, commit (NDJSON),
revision info, tree listing, and HEAD/GET ``resolve``. Files with LFS extensions are stored as LFS
objects (ETag = sha256), others as regular git blobs (ETag = git blob sha1), as the Hub does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".parquet", ".png", ".bin")
TYPE_PREFIX = {"datasets": "dataset", "models": "model", "spaces": "space"}


@dataclass
class StoredFile:
    data: bytes
    lfs: bool

    @property
    def etag(self) -> str:
        if self.lfs:
            return hashlib.sha256(self.data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()


@dataclass
class Repo:
    commits: dict[str, dict[str, StoredFile]] = field(default_factory=dict)  # sha -> tree
    branches: dict[str, str] = field(default_factory=dict)
    private: bool = False


class FakeHub:
    """The server's state; ``requests`` logs (method, path) of every request."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_commits = 0  # answer this many commit calls with HTTP 500
        self.tamper_downloads = False  # serve file bodies with one byte flipped (a mirror gone bad)
        self.lock = threading.Lock()

    def resolve(self, repo: Repo, rev: str) -> str | None:
        rev = unquote(rev)
        if rev in repo.branches:
            return repo.branches[rev]
        return rev if rev in repo.commits else None

    def tree(self, repo_type: str, repo_id: str, rev: str = "main") -> dict[str, bytes]:
        """Test helper: the files of a repo at a revision."""
        repo = self.repos[(repo_type, repo_id)]
        return {p: f.data for p, f in repo.commits[self.resolve(repo, rev)].items()}


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    # -- helpers ------------------------------------------------------------------------
    def _body(self) -> bytes:
        return self._raw

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()  # the blank line after the last chunk
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, code: str, message: str, head: bool = False) -> None:
        self._send(status, json.dumps({"error": message}).encode(),
                   {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}, head)

    def _repo(self, kind: str, repo_id: str) -> Repo | None:
        return self.hub.repos.get((kind, repo_id))

    def _base(self) -> str:
        return f"http://{self.headers['Host']}"

    # -- dispatch -----------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        self._raw = self._read_body()  # always consume the body: the connection is kept alive
        url = urlparse(self.path)
        path = url.path
        with self.hub.lock:
            self.hub.requests.append((method, path))
        parts = [p for p in path.split("/") if p]
        try:
            if method == "POST" and path == "/api/repos/create":
                return self._create_repo()
            if method == "POST" and path == "/api/validate-yaml":
                return self._json(200, {"errors": [], "warnings": []})
            if method == "PUT" and parts[:1] == ["lfs-upload"]:
                return self._lfs_put(parts[1])
            if parts[:1] == ["api"] and len(parts) >= 4 and parts[1] in TYPE_PREFIX:
                return self._api(method, TYPE_PREFIX[parts[1]], f"{parts[2]}/{parts[3]}", parts[4:], url.query)
            if method == "POST" and path.endswith(".git/info/lfs/objects/batch"):
                return self._lfs_batch()
            if method in ("GET", "HEAD") and "resolve" in parts:
                return self._resolve(method, parts)
            self._error(404, "NotFound", f"no route for {method} {path}")
        except Exception as err:  # surface server bugs as 500s instead of hanging the client
            self._error(500, "ServerError", repr(err))

    def _create_repo(self) -> None:
        req = json.loads(self._body())
        repo_id = f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
        key = (req.get("type") or "model", repo_id)
        url = f"{self._base()}/{'datasets/' if key[0] == 'dataset' else ''}{repo_id}"
        if key in self.hub.repos:  # the Hub's 409 body carries the url too (the client reads it)
            return self._json(409, {"error": "You already created this repo", "url": url}, {"X-Error-Code": "RepoExists"})
        empty = hashlib.sha1(repo_id.encode()).hexdigest()
        self.hub.repos[key] = Repo({empty: {}}, {"main": empty}, bool(req.get("private")))
        self._json(200, {"url": url})

    def _api(self, method: str, kind: str, repo_id: str, rest: list[str], query: str) -> None:
        repo = self._repo(kind, repo_id)
        if repo is None:
            return self._error(404, "RepoNotFound", f"Repository {repo_id} not found")
        action, rev = (rest[0], "/".join(rest[1:]) or "main") if rest else ("revision", "main")
        if action == "preupload" and method == "POST":
            files = json.loads(self._body())["files"]
            return self._json(200, {"files": [{"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) else "regular",
                                                "shouldIgnore": False} for f in files]})
        if action == "commit" and method == "POST":
            return self._commit(repo, repo_id, kind, rev)
        sha = self.hub.resolve(repo, rev)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        tree = repo.commits[sha]
        if action == "revision":
            return self._json(200, {"id": repo_id, "sha": sha, "private": repo.private,
                                    "siblings": [{"rfilename": p} for p in sorted(tree)]})
        if action == "tree":
            entries = [{"type": "file", "path": p, "size": len(f.data), "oid": f.etag,
                        **({"lfs": {"oid": f.etag, "size": len(f.data), "pointerSize": 130}} if f.lfs else {})}
                       for p, f in sorted(tree.items())]
            return self._json(200, entries)
        self._error(404, "NotFound", f"unknown api action {action}")

    def _commit(self, repo: Repo, repo_id: str, kind: str, rev: str) -> None:
        lines = [json.loads(line) for line in self._body().decode().splitlines() if line.strip()]
        if self.hub.fail_commits:
            self.hub.fail_commits -= 1
            return self._error(500, "ServerError", "Internal Error (injected by the test)")
        parent = self.hub.resolve(repo, rev)
        if parent is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        tree = dict(repo.commits[parent])
        summary = ""
        for line in lines:
            value = line["value"]
            if line["key"] == "header":
                summary = value.get("summary", "")
            elif line["key"] == "file":
                tree[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
            elif line["key"] == "lfsFile":
                if value["oid"] not in self.hub.blobs:
                    return self._error(422, "BadRequest", f"LFS object {value['oid']} was never uploaded")
                tree[value["path"]] = StoredFile(self.hub.blobs[value["oid"]], lfs=True)
            elif line["key"] == "deletedFile":
                tree.pop(value["path"], None)
            elif line["key"] == "deletedFolder":
                tree = {p: f for p, f in tree.items() if not p.startswith(value["path"].rstrip("/") + "/")}
        digest = hashlib.sha1(parent.encode() + summary.encode() + str(time.time_ns()).encode())
        for p in sorted(tree):
            digest.update(p.encode() + tree[p].etag.encode())
        sha = digest.hexdigest()
        repo.commits[sha] = tree
        repo.branches[unquote(rev) if unquote(rev) in repo.branches else "main"] = sha
        prefix = "datasets/" if kind == "dataset" else ""
        self._json(200, {"commitOid": sha, "commitUrl": f"{self._base()}/{prefix}{repo_id}/commit/{sha}"})

    def _lfs_batch(self) -> None:
        req = json.loads(self._body())
        objects = []
        for obj in req.get("objects", []):
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.hub.blobs:
                entry["actions"] = {"upload": {"href": f"{self._base()}/lfs-upload/{obj['oid']}"}}
            objects.append(entry)
        self._json(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_put(self, oid: str) -> None:
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            return self._error(400, "BadRequest", "sha256 mismatch")
        self.hub.blobs[oid] = data
        self._send(200)

    def _resolve(self, method: str, parts: list[str]) -> None:
        head = method == "HEAD"
        i = parts.index("resolve")
        kind = "dataset" if parts[0] == "datasets" else ("space" if parts[0] == "spaces" else "model")
        owner = parts[1:i] if kind != "model" else parts[:i]
        repo_id = "/".join(owner)
        rev, filename = unquote(parts[i + 1]), "/".join(unquote(p) for p in parts[i + 2:])
        repo = self._repo(kind, repo_id)
        if repo is None:
            return self._error(404, "RepoNotFound", f"Repository {repo_id} not found", head)
        sha = self.hub.resolve(repo, rev)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
        stored = repo.commits[sha].get(filename)
        if stored is None:
            return self._error(404, "EntryNotFound", f"{filename} does not exist at {rev}", head)
        headers = {"ETag": f'"{stored.etag}"', "X-Repo-Commit": sha, "Content-Type": "application/octet-stream"}
        if stored.lfs:
            headers.update({"X-Linked-Etag": f'"{stored.etag}"', "X-Linked-Size": str(len(stored.data))})
        body = stored.data[:-1] + bytes([stored.data[-1] ^ 1]) if self.hub.tamper_downloads and stored.data else stored.data
        self._send(200, body, headers, head)


class FakeHubServer:
    """Runs a `FakeHub` on 127.0.0.1 in a background thread; ``endpoint`` is its base URL."""

    def __init__(self) -> None:
        self.hub = FakeHub()
        handler = type("Handler", (_Handler,), {"hub": self.hub})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHubServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        self.hub.repos.clear()
        self.hub.blobs.clear()
        self.hub.requests.clear()
        self.hub.fail_commits = 0
        self.hub.tamper_downloads = False
