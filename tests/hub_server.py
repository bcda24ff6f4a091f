"""A Hub-compatible HTTP server on 127.0.0.1 for publish tests.

It implements the part of the Hugging Face Hub API that the real ``huggingface_hub``
client and ``datasets.load_dataset`` use to publish and read a dataset repo: repo
creation, refs, tags, ``preupload``, the LFS batch API with "basic" transfers, NDJSON
commits (``parentCommit`` checks, pull requests), paginated tree and paths-info
listings, and ``resolve`` downloads with the headers and ranges the clients read.
Storage is in memory and git-like: a commit is a full snapshot named by the SHA-1 of
its content, and branches, tags and ``refs/pr/N`` point at commits.

Tests steer it through :class:`HubState`: fail a route with a status (429 with
``Retry-After``, 5xx, 412) a given number of times, drop the connection mid-request
(or after the change was applied, so only the response is lost), read the request log
and count LFS uploads.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import io
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlparse

import yaml

GITATTRIBUTES = b"".join(
    b"%s filter=lfs diff=lfs merge=lfs -text\n" % pattern
    for pattern in (b"*.parquet", b"*.arrow", b"*.zip")
)
"""What a new repo's first commit holds, like the Hub's default ``.gitattributes``."""
LFS_THRESHOLD = 10 * 1024 * 1024
"""Files larger than this always go to LFS, whatever ``.gitattributes`` says."""
_RESTRICTED_CARD_FIELDS = {
    "annotations_creators": {
        "found",
        "crowdsourced",
        "expert-generated",
        "machine-generated",
        "no-annotation",
        "other",
    },
    "language_creators": {
        "found",
        "crowdsourced",
        "expert-generated",
        "machine-generated",
        "other",
    },
    "multilinguality": {"monolingual", "multilingual", "translation", "other"},
}
"""Card fields whose values the Hub restricts (upstream's ``expert-annotated`` is refused)."""
_DATE = "2026-01-01T00:00:00.000Z"
_REPO = r"(?P<repo>[^/]+/[^/]+)"


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob, as the Hub reports it for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass(frozen=True)
class Blob:
    """A file in a commit: its bytes and whether git stores it as an LFS pointer."""

    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def pointer(self) -> bytes:
        return (
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
            f"size {len(self.content)}\n"
        ).encode()

    @property
    def oid(self) -> str:
        """The git oid: of the pointer for LFS files, of the content otherwise."""
        return git_blob_oid(self.pointer if self.lfs else self.content)

    @property
    def preupload_oid(self) -> str:
        """What ``preupload`` reports, like the Hub: sha256 for LFS files, else the git oid."""
        return self.sha256 if self.lfs else self.oid


@dataclass
class Commit:
    """A full snapshot of the repo; ``sha`` is the SHA-1 of parent, message and file oids."""

    sha: str
    parent: str | None
    message: str
    files: dict[str, Blob]


@dataclass
class Repo:
    """A dataset repo: commits, branches, tags and pull-request refs."""

    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, str] = field(default_factory=dict)

    def ref(self, revision: str) -> tuple[str, object] | None:
        """Which ref a revision names, as ``("branch", name)``, ``("pr", n)`` or ``None``."""
        name = unquote(revision).removeprefix("refs/heads/")
        if name in self.branches:
            return "branch", name
        match = re.fullmatch(r"refs/pr/(\d+)", name)
        if match and int(match[1]) in self.pulls:
            return "pr", int(match[1])
        return None

    def resolve(self, revision: str) -> Commit | None:
        """The commit a branch, tag, ``refs/pr/N`` or full sha names."""
        name = unquote(revision)
        ref = self.ref(name)
        if ref is not None:
            kind, key = ref
            sha = self.branches[key] if kind == "branch" else self.pulls[key]  # type: ignore[index]
        else:
            sha = self.tags.get(name.removeprefix("refs/tags/")) or name
        return self.commits.get(sha)

    def head(self, branch: str = "main") -> str:
        return self.branches[branch]


@dataclass
class Fault:
    """Answer the next ``times`` matching requests with ``status``, or drop the connection."""

    method: str
    route: str
    """Regular expression searched in the request path."""
    status: int | None = 500
    """``None`` drops the connection without a response."""
    times: int = 1
    retry_after: int | None = None
    after_apply: bool = False
    """With ``status=None``: handle the request, then drop the connection (the response is lost)."""


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server received (never its headers: they may carry a token)."""

    method: str
    path: str
    route: str | None
    mutates: bool
    status: int | None
    """``None`` when the connection was dropped."""


class HubState:
    """Everything the server stores, plus the request log, counters and fault switches."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.uploads: list[str] = []
        """sha256 of every LFS object uploaded, in order."""
        self.uploaded_bytes = 0
        self.requests: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self.tree_page_size = 1000
        """Entries per tree page (the Hub serves 1000, and 50 with ``expand``)."""
        self.before_commit: Callable[[Repo], None] | None = None
        """Called once, under the lock, before the next commit is checked (to move the head)."""
        self.lock = threading.RLock()

    # -- switches for tests -------------------------------------------------------------------
    def fail(
        self,
        method: str,
        route: str,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``route`` with ``status``."""
        self.faults.append(Fault(method, route, status, times, retry_after))

    def drop(self, method: str, route: str, *, times: int = 1, after_apply: bool = False) -> None:
        """Close the connection without answering the next ``times`` matching requests."""
        self.faults.append(Fault(method, route, None, times, after_apply=after_apply))

    def reject_next_commit(self) -> None:
        """Answer the next commit with 412, as the Hub does when its parent is not the head."""
        self.fail("POST", r"/commit/", 412)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- reading state in tests -----------------------------------------------------------------
    def head(self, repo_id: str, branch: str = "main") -> str:
        return self.repos[repo_id].head(branch)

    def tags(self, repo_id: str) -> dict[str, str]:
        return dict(self.repos[repo_id].tags) if repo_id in self.repos else {}

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        commit = self.repos[repo_id].resolve(revision)
        assert commit is not None, f"{repo_id}@{revision} does not exist"
        return {path: blob.content for path, blob in commit.files.items()}

    def mutations(self) -> list[LoggedRequest]:
        """Requests to routes that change state (and requests no route knows, to be safe)."""
        return [r for r in self.requests if r.mutates or r.route is None]

    # -- used by the handler ----------------------------------------------------------------------
    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.route, path):
                    fault.times -= 1
                    return fault
        return None

    def new_commit(
        self, repo: Repo, parent: str | None, message: str, files: dict[str, Blob]
    ) -> Commit:
        payload = json.dumps(
            [parent, message, sorted((p, b.oid) for p, b in files.items())]
        ).encode()
        commit = Commit(hashlib.sha1(payload).hexdigest(), parent, message, files)
        repo.commits[commit.sha] = commit
        return commit


@dataclass(frozen=True)
class Route:
    """A path pattern, its handler method, and whether it changes state (and so needs the token)."""

    method: str
    pattern: re.Pattern
    handler: str
    mutates: bool = False
    presigned: bool = False
    """A URL the server handed out (like S3's pre-signed URLs): no token needed."""


def _route(method: str, pattern: str, handler: str, **flags: bool) -> Route:
    return Route(method, re.compile(pattern), handler, **flags)


ROUTES = [
    _route("POST", r"^/api/repos/create$", "create_repo", mutates=True),
    _route("GET", r"^/api/whoami-v2$", "whoami"),
    _route("GET", r"^/api/agent-harnesses$", "agent_harnesses"),
    _route("POST", r"^/api/validate-yaml$", "validate_yaml"),
    _route("GET", rf"^/api/datasets/{_REPO}/refs$", "refs"),
    _route("GET", rf"^/api/datasets/{_REPO}(?:/revision/(?P<rev>.+))?$", "repo_info"),
    _route("POST", rf"^/api/datasets/{_REPO}/preupload/(?P<rev>[^/]+)$", "preupload"),
    _route("POST", rf"^/api/datasets/{_REPO}/commit/(?P<rev>[^/]+)$", "commit", mutates=True),
    _route("POST", rf"^/api/datasets/{_REPO}/tag/(?P<rev>[^/]+)$", "create_tag", mutates=True),
    _route("DELETE", rf"^/api/datasets/{_REPO}/tag/(?P<tag>[^/]+)$", "delete_tag", mutates=True),
    _route("GET", rf"^/api/datasets/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$", "tree"),
    _route("POST", rf"^/api/datasets/{_REPO}/paths-info/(?P<rev>[^/]+)$", "paths_info"),
    _route("POST", rf"^/datasets/{_REPO}\.git/info/lfs/objects/batch$", "lfs_batch", mutates=True),
    _route("PUT", r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$", "lfs_put", mutates=True, presigned=True),
    _route("POST", r"^/lfs-verify/(?P<oid>[0-9a-f]{64})$", "lfs_verify"),
    _route("GET", rf"^/datasets/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$", "resolve"),
    _route("HEAD", rf"^/datasets/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$", "resolve"),
]
"""Every route: method, path pattern, handler method, and whether it changes state.

The LFS batch call counts as a mutation: it hands out upload URLs."""


class HubHandler(BaseHTTPRequestHandler):
    """Routes each request to one small handler method; ``self.server.state`` holds the data."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet by design
        return

    @property
    def state(self) -> HubState:
        return self.server.state  # type: ignore[attr-defined]

    # -- plumbing -------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815

    def _dispatch(self) -> None:
        url = urlparse(self.path)
        self.query = parse_qs(url.query)
        route, params = self._match(url.path)
        self.entry = (url.path, route)
        self.response_lost = False
        fault = self.state.take_fault(self.command, url.path)
        if fault and fault.status is None and not fault.after_apply:
            self._read_body(partial=True)  # mid-request: part of the body, then the connection goes
            self._drop()
        else:
            self.body = self._read_body()
            if fault is None:
                self._handle(route, params)
            elif fault.status is not None:
                retry = (
                    {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                )
                self._error(fault.status, f"injected HTTP {fault.status}", retry)
            else:
                self._handle_then_drop(route, params)

    def _read_body(self, partial: bool = False) -> bytes:
        """The request body (by ``Content-Length`` or chunked); ``partial``: half at most."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while not partial and (size := int(self.rfile.readline().split(b";")[0], 16)):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            if not partial:
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length // 2 if partial else length) if length else b""

    def _handle_then_drop(self, route: Route | None, params: dict[str, str]) -> None:
        """Apply the request, then close the connection: the change happens, the answer is lost."""
        self.wfile, real, self.response_lost = io.BytesIO(), self.wfile, True
        self._handle(route, params)
        self.wfile = real
        self._drop()

    def _match(self, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in ROUTES:
            match = route.pattern.match(path)
            if route.method == self.command and match:
                return route, {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
        return None, {}

    def _handle(self, route: Route | None, params: dict[str, str]) -> None:
        if route is None:
            self._error(404, f"no route for {self.command} {self.path}")
        elif route.mutates and not route.presigned and not self._authorized():
            self._error(401, "Invalid credentials in Authorization header")
        else:
            getattr(self, route.handler)(**params)

    def _log(self, status: int | None) -> None:
        """Record the request before the client can see the outcome, so tests never race it."""
        path, route = self.entry
        handler, mutates = (route.handler, route.mutates) if route else (None, False)
        with self.state.lock:
            self.state.requests.append(LoggedRequest(self.command, path, handler, mutates, status))

    def _drop(self) -> None:
        self._log(None)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _authorized(self) -> bool:
        return (
            self.state.token is None
            or self.headers.get("Authorization") == f"Bearer {self.state.token}"
        )

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        if not self.response_lost:
            self._log(status)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._json({"error": message}, status, {"X-Error-Message": message, **(headers or {})})

    def _base(self) -> str:
        return f"http://{self.headers['Host']}"

    def _flag(self, name: str) -> bool:
        return self.query.get(name, ["false"])[0].lower() in ("1", "true")

    def _repo(self, repo: str) -> Repo | None:
        """The repo, or ``None`` after answering 404 (also for a private repo without a token)."""
        found = self.state.repos.get(repo)
        if found is None or (found.private and not self._authorized()):
            self._error(404, "Repository not found", {"X-Error-Code": "RepoNotFound"})
            return None
        return found

    def _repo_commit(self, repo: str, rev: str) -> tuple[Repo, Commit] | None:
        """The repo and the commit ``rev`` names, or ``None`` after answering 404."""
        found = self._repo(repo)
        if found is None:
            return None
        commit = found.resolve(rev)
        if commit is None:
            self._error(404, f"Invalid rev id: {rev}", {"X-Error-Code": "RevisionNotFound"})
            return None
        return found, commit

    # -- repos, refs and tags ------------------------------------------------------------------
    def create_repo(self) -> None:
        data = json.loads(self.body)
        repo_id = (
            f"{data['organization']}/{data['name']}" if data.get("organization") else data["name"]
        )
        with self.state.lock:
            if repo_id in self.state.repos:
                self._error(409, "You already created this dataset repo")
                return
            repo = Repo(repo_id, data.get("visibility") == "private" or bool(data.get("private")))
            initial = self.state.new_commit(
                repo, None, "initial commit", {".gitattributes": Blob(GITATTRIBUTES, False)}
            )
            repo.branches["main"] = initial.sha
            self.state.repos[repo_id] = repo
        self._json({"url": f"{self._base()}/datasets/{repo_id}", "name": repo_id})

    def whoami(self) -> None:
        if self.state.token is not None and not self._authorized():
            self._error(401, "Invalid credentials in Authorization header")
            return
        self._json({"type": "user", "name": "tester", "auth": {"accessToken": {"role": "write"}}})

    def agent_harnesses(self) -> None:
        """The registry the client fetches when it builds headers; empty: no agent detected."""
        self._json({"standardEnvVars": [], "harnesses": {}})

    def validate_yaml(self) -> None:
        """Check the card's front matter the way the Hub does for the fields it restricts."""
        content = json.loads(self.body)["content"]
        errors = []
        if content.startswith("---\n"):
            front = yaml.safe_load(content[4:].split("\n---", 1)[0]) or {}
            if front.get("license") == "other":
                errors += [{"message": f'"license: other" needs "{key}"'}
                           for key in ("license_name", "license_link") if not front.get(key)]
            for key, allowed in _RESTRICTED_CARD_FIELDS.items():
                for value in front.get(key) or []:
                    if value not in allowed:
                        errors.append(
                            {"message": f'"{key}" must be one of {sorted(allowed)}, got "{value}"'}
                        )
        self._json({"errors": errors, "warnings": []}, 400 if errors else 200)

    def refs(self, repo: str) -> None:
        found = self._repo(repo)
        if found is None:
            return

        def refs_of(kind: str, items: dict) -> list[dict]:
            return [
                {"name": str(n), "ref": f"refs/{kind}/{n}", "targetCommit": sha}
                for n, sha in items.items()
            ]

        data = {
            "branches": refs_of("heads", found.branches),
            "tags": refs_of("tags", found.tags),
            "converts": [],
        }
        if self._flag("include_prs"):
            data["pullRequests"] = refs_of("pr", found.pulls)
        self._json(data)

    def repo_info(self, repo: str, rev: str = "main") -> None:
        resolved = self._repo_commit(repo, rev)
        if resolved is None:
            return
        found, commit = resolved
        self._json(
            {
                "_id": repo,
                "id": repo,
                "author": repo.split("/")[0],
                "sha": commit.sha,
                "private": found.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "lastModified": _DATE,
                "createdAt": _DATE,
                "cardData": {},
                "siblings": [{"rfilename": p} for p in sorted(commit.files)],
            }
        )

    def create_tag(self, repo: str, rev: str) -> None:
        resolved = self._repo_commit(repo, rev)
        if resolved is None:
            return
        found, commit = resolved
        tag = json.loads(self.body)["tag"]
        with self.state.lock:
            if tag in found.tags:
                self._error(409, f"Tag {tag} already exists")
                return
            found.tags[tag] = commit.sha
        self._json({"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": commit.sha})

    def delete_tag(self, repo: str, tag: str) -> None:
        found = self._repo(repo)
        if found is None:
            return
        with self.state.lock:
            if found.tags.pop(tag, None) is None:
                self._error(404, f"Tag {tag} does not exist")
                return
        self._json({})

    # -- uploads and commits ---------------------------------------------------------------------
    def _goes_to_lfs(self, commit: Commit | None, path: str, size: int, sample: bytes) -> bool:
        """LFS when ``.gitattributes`` says so, the file is large, or its sample looks binary."""
        attributes = commit.files.get(".gitattributes") if commit else None
        patterns = [
            line.split()[0]
            for line in (attributes.content.decode() if attributes else "").splitlines()
            if "filter=lfs" in line
        ]
        name = path.rsplit("/", 1)[-1]
        return (
            size > LFS_THRESHOLD
            or b"\0" in sample
            or any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p) for p in patterns)
        )

    def preupload(self, repo: str, rev: str) -> None:
        found = self._repo(repo)
        if found is None:
            return
        commit = found.resolve(rev)
        files = []
        for item in json.loads(self.body)["files"]:
            sample = base64.b64decode(item.get("sample", ""))
            existing = commit.files.get(item["path"]) if commit else None
            lfs = self._goes_to_lfs(commit, item["path"], item["size"], sample)
            files.append(
                {
                    "path": item["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": existing.preupload_oid if existing else None,
                }
            )
        self._json({"files": files, "commitOid": commit.sha if commit else None})

    def lfs_batch(self, repo: str) -> None:
        """Upload actions only for objects the server does not hold yet (as the Hub does)."""
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
        self._send(
            200,
            json.dumps({"transfer": "basic", "objects": objects}).encode(),
            {"Content-Type": "application/vnd.git-lfs+json"},
        )

    def lfs_put(self, oid: str) -> None:
        if hashlib.sha256(self.body).hexdigest() != oid:
            self._error(400, "sha256 mismatch")
            return
        with self.state.lock:
            self.state.lfs[oid] = self.body
            self.state.uploads.append(oid)
            self.state.uploaded_bytes += len(self.body)
        self._send(200, b"", {})

    def lfs_verify(self, oid: str) -> None:
        data = json.loads(self.body)
        if oid not in self.state.lfs or len(self.state.lfs[oid]) != data.get("size"):
            self._error(404, "object not found")
            return
        self._json({})

    def commit(self, repo: str, rev: str) -> None:
        found = self._repo(repo)
        if found is None:
            return
        lines = [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        create_pr = self._flag("create_pr")
        with self.state.lock:
            hook, self.state.before_commit = self.state.before_commit, None
            if hook:
                hook(found)
            ref = found.ref(rev)
            if ref is None:
                self._error(
                    404,
                    f"Invalid rev id: {rev} is not a branch",
                    {"X-Error-Code": "RevisionNotFound"},
                )
                return
            base = found.resolve(rev)
            parent = header.get("parentCommit")
            if parent and parent != base.sha:
                self._error(412, "A commit has happened since. Please refresh and try again.")
                return
            files = self._apply(base.files, lines[1:])
            if files is None:
                return
            commit = self.state.new_commit(found, base.sha, header.get("summary", ""), files)
            result = {
                "commitUrl": f"{self._base()}/datasets/{repo}/commit/{commit.sha}",
                "commitOid": commit.sha,
            }
            kind, key = ref
            if create_pr:
                number = max(found.pulls, default=0) + 1
                found.pulls[number] = commit.sha
                result["pullRequestUrl"] = f"{self._base()}/datasets/{repo}/discussions/{number}"
            elif kind == "branch":
                found.branches[key] = commit.sha  # type: ignore[index]
            else:
                found.pulls[key] = commit.sha  # type: ignore[index]
        self._json(result)

    def _apply(self, base: dict[str, Blob], operations: list[dict]) -> dict[str, Blob] | None:
        """The files after ``operations``, or ``None`` after answering an error."""
        files = dict(base)
        for line in operations:
            key, value = line["key"], line["value"]
            if key == "file":
                files[value["path"]] = Blob(base64.b64decode(value["content"]), False)
            elif key == "lfsFile":
                if value["oid"] not in self.state.lfs:
                    self._error(422, f"LFS object {value['oid']} was not uploaded")
                    return None
                files[value["path"]] = Blob(self.state.lfs[value["oid"]], True)
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    self._error(
                        404,
                        "A file with this name doesn't exist",
                        {"X-Error-Code": "EntryNotFound"},
                    )
                    return None
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                files = {p: b for p, b in files.items() if not p.startswith(prefix)}
            else:
                self._error(400, f"unsupported commit operation {key}")
                return None
        return files

    # -- listings and downloads ------------------------------------------------------------------
    def _file_entry(self, path: str, blob: Blob, expand: bool, commit: Commit) -> dict:
        entry = {"type": "file", "oid": blob.oid, "size": len(blob.content), "path": path}
        if blob.lfs:
            entry["lfs"] = {
                "oid": blob.sha256,
                "size": len(blob.content),
                "pointerSize": len(blob.pointer),
            }
        if expand:
            entry["lastCommit"] = {"id": commit.sha, "title": commit.message, "date": _DATE}
        return entry

    def _folder_entry(self, path: str, expand: bool, commit: Commit) -> dict:
        entry = {
            "type": "directory",
            "oid": hashlib.sha1(f"{commit.sha}:{path}".encode()).hexdigest(),
            "size": 0,
            "path": path,
        }
        if expand:
            entry["lastCommit"] = {"id": commit.sha, "title": commit.message, "date": _DATE}
        return entry

    @staticmethod
    def _folders(commit: Commit) -> set[str]:
        return {
            "/".join(p.split("/")[:i]) for p in commit.files for i in range(1, p.count("/") + 1)
        }

    def tree(self, repo: str, rev: str, path: str = "") -> None:
        """A (recursive) listing, paginated like the Hub with ``Link: <…>; rel="next"``."""
        resolved = self._repo_commit(repo, rev)
        if resolved is None:
            return
        _, commit = resolved
        base = path.strip("/")
        folders = self._folders(commit)
        if base and base not in folders:
            self._error(404, f"Entry not found: {base}", {"X-Error-Code": "EntryNotFound"})
            return
        prefix = base + "/" if base else ""
        recursive, expand = self._flag("recursive"), self._flag("expand")

        def visible(p: str) -> bool:
            return p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :])

        entries = [self._folder_entry(f, expand, commit) for f in sorted(folders) if visible(f)]
        entries += [
            self._file_entry(p, b, expand, commit)
            for p, b in sorted(commit.files.items())
            if visible(p)
        ]
        size = min(self.state.tree_page_size, 50) if expand else self.state.tree_page_size
        start = int(self.query.get("cursor", ["0"])[0])
        headers = {}
        if start + size < len(entries):
            query = urlencode({"recursive": recursive, "expand": expand, "cursor": start + size})
            headers["Link"] = f'<{self._base()}{urlparse(self.path).path}?{query}>; rel="next"'
        self._json(entries[start : start + size], headers=headers)

    def paths_info(self, repo: str, rev: str) -> None:
        resolved = self._repo_commit(repo, rev)
        if resolved is None:
            return
        _, commit = resolved
        if self.headers.get("Content-Type", "").startswith("application/json"):
            data = json.loads(self.body)
            paths, expand = data.get("paths", []), bool(data.get("expand"))
        else:
            form = parse_qs(self.body.decode())
            paths, expand = (
                form.get("paths", []),
                form.get("expand", ["false"])[0].lower() == "true",
            )
        folders = self._folders(commit)
        result = []
        for p in (p.strip("/") for p in paths):
            if p in commit.files:
                result.append(self._file_entry(p, commit.files[p], expand, commit))
            elif p in folders:
                result.append(self._folder_entry(p, expand, commit))
        self._json(result)

    def resolve(self, repo: str, rev: str, path: str) -> None:
        """A file's bytes (or a range), with the headers hf_hub_download and HfFileSystem read."""
        resolved = self._repo_commit(repo, rev)
        if resolved is None:
            return
        _, commit = resolved
        blob = commit.files.get(path)
        if blob is None:
            self._error(404, "Entry not found", {"X-Error-Code": "EntryNotFound"})
            return
        etag = f'"{blob.sha256 if blob.lfs else blob.oid}"'
        headers = {
            "X-Repo-Commit": commit.sha,
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if blob.lfs:
            headers |= {"X-Linked-Etag": etag, "X-Linked-Size": str(len(blob.content))}
        content, status = blob.content, 200
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and (match[1] or match[2]):
            size = len(content)
            if match[1]:
                start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
            else:
                start, end = max(0, size - int(match[2])), size - 1
            if start >= size:
                self._send(416, b"", {"Content-Range": f"bytes */{size}"})
                return
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            content, status = content[start : end + 1], 206
        self._send(status, content, headers)


class HubServer:
    """Run :class:`HubHandler` on 127.0.0.1 (a free port) in a background thread.

    A context manager: ``with HubServer(token=...) as hub: hub.endpoint``.
    """

    def __init__(self, token: str | None = None) -> None:
        self.state = HubState(token)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)
        self.httpd.daemon_threads = True
        self.httpd.state = self.state  # type: ignore[attr-defined]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

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
        self.thread.join(timeout=5)
