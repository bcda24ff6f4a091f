"""A Hub-compatible HTTP server on 127.0.0.1 for publish tests.

It implements the part of the Hugging Face Hub API that the real ``huggingface_hub``
client and ``datasets.load_dataset`` use to publish and read a dataset repo: repo
creation, refs and tags, ``preupload``, the LFS batch API with "basic" transfers,
NDJSON commits (with ``parentCommit`` checks and pull requests), tree and paths-info
listings, and ``resolve`` downloads with the headers the client reads. Storage is in
memory. Faults can be injected per route (HTTP status codes, dropped connections) so
tests can show that nothing is half-published.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import yaml

GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
_LFS_SUFFIXES = (".parquet", ".arrow", ".bin", ".zip", ".gz")
_ALLOWED = {
    "annotations_creators": {"found", "crowdsourced", "expert-generated", "machine-generated", "no-annotation",
                             "other"},
    "language_creators": {"found", "crowdsourced", "expert-generated", "machine-generated", "other"},
    "multilinguality": {"monolingual", "multilingual", "translation", "other"},
}
"""Card fields whose values the Hub restricts (e.g. upstream's ``expert-annotated`` is refused)."""


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob, as the Hub reports it for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass(frozen=True)
class Blob:
    """A file in a commit: its bytes and whether it is stored in LFS."""

    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def pointer(self) -> bytes:
        return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                f"size {len(self.content)}\n").encode()

    @property
    def oid(self) -> str:
        return git_blob_oid(self.pointer if self.lfs else self.content)


@dataclass
class Commit:
    sha: str
    parent: str | None
    message: str
    files: dict[str, Blob]


@dataclass
class Repo:
    """A dataset repo: commits and refs."""

    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        revision = unquote(revision)
        if revision.startswith("refs/pr/"):
            sha = self.pulls.get(int(revision.rsplit("/", 1)[1]))
        else:
            sha = self.branches.get(revision) or self.tags.get(revision) or (
                revision if revision in self.commits else None)
        return self.commits.get(sha) if sha else None


@dataclass
class Fault:
    """Answer matching requests with ``status`` (or drop the connection) ``times`` times."""

    method: str
    path: str
    """Regular expression searched in the request path."""
    status: int = 500
    drop: bool = False
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)


class HubState:
    """Everything the server stores, plus counters and fault switches for the tests."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.uploads: list[str] = []
        """sha256 of every LFS object uploaded, in order."""
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.lock = threading.Lock()

    def inject(self, method: str, path: str, *, status: int = 500, drop: bool = False, times: int = 1,
               headers: dict[str, str] | None = None) -> None:
        """Make the next ``times`` matching requests fail."""
        self.faults.append(Fault(method, path, status, drop, times, headers or {}))

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    return fault
        return None

    def new_commit(self, repo: Repo, parent: str | None, message: str, files: dict[str, Blob]) -> Commit:
        payload = json.dumps([parent, message, sorted((p, b.oid) for p, b in files.items())]).encode()
        sha = hashlib.sha1(payload).hexdigest()
        commit = Commit(sha, parent, message, files)
        repo.commits[sha] = commit
        return commit


class HubHandler(BaseHTTPRequestHandler):
    """Routes requests to small handler methods; ``self.server.state`` holds the data."""

    protocol_version = "HTTP/1.1"
    routes = [
        ("POST", r"^/api/repos/create$", "create_repo"),
        ("GET", r"^/api/whoami-v2$", "whoami"),
        ("POST", r"^/api/validate-yaml$", "validate_yaml"),
        ("GET", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/refs$", "refs"),
        ("GET", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>.+))?$", "repo_info"),
        ("POST", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>.+)$", "preupload"),
        ("POST", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>.+)$", "commit"),
        ("POST", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/tag/(?P<rev>.+)$", "create_tag"),
        ("DELETE", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/tag/(?P<tag>.+)$", "delete_tag"),
        ("GET", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$", "tree"),
        ("POST", r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/paths-info/(?P<rev>[^/]+)$", "paths_info"),
        ("POST", r"^/datasets/(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch$", "lfs_batch"),
        ("PUT", r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$", "lfs_put"),
        ("POST", r"^/lfs-verify/(?P<oid>[0-9a-f]{64})$", "lfs_verify"),
        ("GET", r"^/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$", "resolve"),
        ("HEAD", r"^/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$", "resolve"),
    ]

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet by design
        return

    @property
    def state(self) -> HubState:
        return self.server.state  # type: ignore[attr-defined]

    # -- plumbing ---------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        self.query = parse_qs(url.query)
        path = url.path
        self.state.requests.append((method, path))
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        fault = self.state.take_fault(method, path)
        if fault and fault.drop:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault:
            self._json({"error": f"injected {fault.status}"}, fault.status, fault.headers)
            return
        if self.state.token and not self._authorized(method, path):
            self._json({"error": "Invalid credentials in Authorization header"}, 401)
            return
        for route_method, pattern, name in self.routes:
            match = re.match(pattern, path)
            if route_method == method and match:
                getattr(self, name)(**{k: unquote(v) if v else v for k, v in match.groupdict().items()})
                return
        self._json({"error": f"no route for {method} {path}"}, 404)

    def _authorized(self, method: str, path: str) -> bool:
        if method in ("GET", "HEAD") and "/lfs-" not in path:
            return True
        return self.headers.get("Authorization") == f"Bearer {self.state.token}" or path.startswith("/lfs-")

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        extra = {"X-Error-Message": data["error"]} if isinstance(data, dict) and "error" in data else {}
        self._send(status, body, {"Content-Type": "application/json", **extra, **(headers or {})})

    def _repo(self, repo: str) -> Repo | None:
        found = self.state.repos.get(repo)
        if found is None:
            self._json({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
        return found

    def _commit(self, repo: Repo, rev: str) -> Commit | None:
        commit = repo.resolve(rev)
        if commit is None:
            self._json({"error": f"Invalid rev id: {rev}"}, 404, {"X-Error-Code": "RevisionNotFound"})
        return commit

    def _repo_commit(self, repo: str, rev: str) -> tuple[Repo, Commit] | None:
        """The repo and the commit ``rev`` names, or ``None`` after answering 404."""
        found = self._repo(repo)
        commit = self._commit(found, rev) if found is not None else None
        return (found, commit) if commit is not None else None

    def _base(self) -> str:
        return f"http://{self.headers['Host']}"

    # -- repos and refs ---------------------------------------------------------------------
    def create_repo(self) -> None:
        data = json.loads(self.body)
        repo_id = f"{data['organization']}/{data['name']}" if data.get("organization") else data["name"]
        if repo_id in self.state.repos:
            self._json({"error": "You already created this dataset repo", "url": f"{self._base()}/datasets/{repo_id}"},
                       409)
            return
        repo = Repo(repo_id, bool(data.get("private")))
        initial = self.state.new_commit(repo, None, "initial commit", {".gitattributes": Blob(GITATTRIBUTES, False)})
        repo.branches["main"] = initial.sha
        self.state.repos[repo_id] = repo
        self._json({"url": f"{self._base()}/datasets/{repo_id}", "name": repo_id})

    def whoami(self) -> None:
        self._json({"type": "user", "name": "tester", "auth": {"accessToken": {"role": "write"}}})

    def validate_yaml(self) -> None:
        """Check the card's front matter the way the Hub does for the fields it restricts."""
        content = json.loads(self.body)["content"]
        errors = []
        if content.startswith("---\n"):
            front = yaml.safe_load(content[4:].split("\n---", 1)[0]) or {}
            for key, allowed in _ALLOWED.items():
                for value in front.get(key) or []:
                    if value not in allowed:
                        errors.append({"message": f'"{key}" must be one of {sorted(allowed)}, got "{value}"'})
        self._json({"errors": errors, "warnings": []}, 400 if errors else 200)

    def refs(self, repo: str) -> None:
        found = self._repo(repo)
        if found is None:
            return

        def refs_of(kind: str, items: dict) -> list[dict]:
            return [{"name": str(n), "ref": f"refs/{kind}/{n}", "targetCommit": sha} for n, sha in items.items()]

        self._json({"branches": refs_of("heads", found.branches), "tags": refs_of("tags", found.tags),
                    "converts": [], "pullRequests": refs_of("pr", found.pulls)})

    def repo_info(self, repo: str, rev: str | None = None) -> None:
        resolved = self._repo_commit(repo, rev or "main")
        if resolved is None:
            return
        found, commit = resolved
        self._json({
            "_id": repo, "id": repo, "author": repo.split("/")[0], "sha": commit.sha, "private": found.private,
            "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
            "lastModified": "2026-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": p} for p in sorted(commit.files)], "cardData": {},
        })

    def create_tag(self, repo: str, rev: str) -> None:
        resolved = self._repo_commit(repo, rev)
        if resolved is None:
            return
        found, commit = resolved
        tag = json.loads(self.body)["tag"]
        with self.state.lock:
            if tag in found.tags:
                self._json({"error": f"Tag {tag} already exists"}, 409)
                return
            found.tags[tag] = commit.sha
        self._json({"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": commit.sha})

    def delete_tag(self, repo: str, tag: str) -> None:
        found = self._repo(repo)
        if found is not None:
            found.tags.pop(tag, None)
            self._json({})

    # -- uploads ------------------------------------------------------------------------------
    def preupload(self, repo: str, rev: str) -> None:
        found = self._repo(repo)
        if found is None:
            return
        commit = found.resolve(rev)
        files = []
        for item in json.loads(self.body)["files"]:
            lfs = item["path"].endswith(_LFS_SUFFIXES) or item["size"] > 10 * 1024 * 1024
            existing = commit.files.get(item["path"]) if commit else None
            files.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": existing.oid if existing else None})
        self._json({"files": files, "commitOid": commit.sha if commit else None})

    def lfs_batch(self, repo: str) -> None:
        if self._repo(repo) is None:
            return
        objects = []
        for obj in json.loads(self.body)["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.state.lfs:
                entry["actions"] = {
                    "upload": {"href": f"{self._base()}/lfs-upload/{obj['oid']}"},
                    "verify": {"href": f"{self._base()}/lfs-verify/{obj['oid']}"},
                }
            objects.append(entry)
        self._send(200, json.dumps({"transfer": "basic", "objects": objects}).encode(),
                   {"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_put(self, oid: str) -> None:
        if hashlib.sha256(self.body).hexdigest() != oid:
            self._json({"error": "sha256 mismatch"}, 400)
            return
        with self.state.lock:
            self.state.lfs[oid] = self.body
            self.state.uploads.append(oid)
        self._send(200, b"", {})

    def lfs_verify(self, oid: str) -> None:
        data = json.loads(self.body)
        if oid not in self.state.lfs or len(self.state.lfs[oid]) != data.get("size"):
            self._json({"error": "object not found"}, 404)
            return
        self._json({})

    def commit(self, repo: str, rev: str) -> None:
        found = self._repo(repo)
        if found is None:
            return
        lines = [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        create_pr = self.query.get("create_pr", ["0"])[0] in ("1", "true", "True")
        with self.state.lock:
            base = found.resolve(rev)
            if base is None:
                self._json({"error": f"Invalid rev id: {rev}"}, 404, {"X-Error-Code": "RevisionNotFound"})
                return
            parent = header.get("parentCommit")
            if parent and parent != base.sha:
                self._json({"error": "A commit has happened since. Please refresh and try again."}, 412)
                return
            files = dict(base.files)
            for line in lines:
                value = line["value"]
                if line["key"] == "file":
                    files[value["path"]] = Blob(base64.b64decode(value["content"]), False)
                elif line["key"] == "lfsFile":
                    if value["oid"] not in self.state.lfs:
                        self._json({"error": f"LFS object {value['oid']} was not uploaded"}, 422)
                        return
                    files[value["path"]] = Blob(self.state.lfs[value["oid"]], True)
                elif line["key"] == "deletedFile":
                    files.pop(value["path"], None)
                elif line["key"] == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {p: b for p, b in files.items() if not p.startswith(prefix)}
            commit = self.state.new_commit(found, base.sha, header.get("summary", ""), files)
            result = {"commitUrl": f"{self._base()}/datasets/{repo}/commit/{commit.sha}", "commitOid": commit.sha}
            if create_pr:
                number = len(found.pulls) + 1
                found.pulls[number] = commit.sha
                result["pullRequestUrl"] = f"{self._base()}/datasets/{repo}/discussions/{number}"
            else:
                branch = unquote(rev)
                found.branches[branch if branch in found.branches else "main"] = commit.sha
        self._json(result)

    # -- listings and downloads ------------------------------------------------------------------
    def _entry(self, path: str, blob: Blob, expand: bool) -> dict:
        entry = {"type": "file", "oid": blob.oid, "size": len(blob.content), "path": path}
        if blob.lfs:
            entry["lfs"] = {"oid": blob.sha256, "size": len(blob.content), "pointerSize": len(blob.pointer)}
        if expand:
            entry["lastCommit"] = {"id": "0" * 40, "title": "", "date": "2026-01-01T00:00:00.000Z"}
        return entry

    def _folders(self, commit: Commit) -> set[str]:
        return {"/".join(p.split("/")[:i]) for p in commit.files for i in range(1, p.count("/") + 1)}

    def tree(self, repo: str, rev: str, path: str | None = None) -> None:
        resolved = self._repo_commit(repo, rev)
        if resolved is None:
            return
        found, commit = resolved
        base = (path or "").strip("/")
        prefix = base + "/" if base else ""
        recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
        expand = self.query.get("expand", ["false"])[0].lower() in ("1", "true")
        folders = self._folders(commit)
        if base and base not in folders:
            self._json({"error": f"Entry not found: {base}"}, 404, {"X-Error-Code": "EntryNotFound"})
            return

        def visible(p: str) -> bool:
            return p.startswith(prefix) and (recursive or "/" not in p[len(prefix):])

        entries = [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in sorted(folders) if visible(f)]
        entries += [self._entry(p, b, expand) for p, b in sorted(commit.files.items()) if visible(p)]
        self._json(entries)

    def paths_info(self, repo: str, rev: str) -> None:
        resolved = self._repo_commit(repo, rev)
        if resolved is None:
            return
        found, commit = resolved
        if self.headers.get("Content-Type", "").startswith("application/json"):
            data = json.loads(self.body)
            paths, expand = data.get("paths", []), bool(data.get("expand"))
        else:
            form = parse_qs(self.body.decode())
            paths, expand = form.get("paths", []), form.get("expand", ["false"])[0].lower() == "true"
        folders = self._folders(commit)
        result = []
        for p in paths:
            p = p.strip("/")
            if p in commit.files:
                result.append(self._entry(p, commit.files[p], expand))
            elif p in folders or p == "":
                result.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": p})
        self._json(result)

    def resolve(self, repo: str, rev: str, path: str) -> None:
        resolved = self._repo_commit(repo, rev)
        if resolved is None:
            return
        found, commit = resolved
        blob = commit.files.get(path)
        if blob is None:
            self._json({"error": "Entry not found"}, 404, {"X-Error-Code": "EntryNotFound"})
            return
        etag = f'"{blob.sha256 if blob.lfs else blob.oid}"'
        headers = {"X-Repo-Commit": commit.sha, "ETag": etag, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        if blob.lfs:
            headers |= {"X-Linked-Etag": etag, "X-Linked-Size": str(len(blob.content))}
        content, status = blob.content, 200
        match = re.match(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and self.command == "GET":
            start = int(match[1]) if match[1] else max(0, len(content) - int(match[2]))
            end = int(match[2]) if match[1] and match[2] else len(content) - 1
            end = min(end, len(content) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
            content, status = content[start:end + 1], 206
        self._send(status, content, headers)


class HubServer:
    """Run :class:`HubHandler` on 127.0.0.1 in a background thread (a context manager)."""

    def __init__(self, token: str | None = None) -> None:
        self.state = HubState(token)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)
        self.httpd.daemon_threads = True
        self.httpd.state = self.state  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
