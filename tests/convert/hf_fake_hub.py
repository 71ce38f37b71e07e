"""A local stand-in for the Hugging Face Hub: just the endpoints ``create_repo`` +
``upload_folder`` call (huggingface_hub 2.x, legacy LFS path, Xet disabled).

    POST /api/repos/create                         -> {"url": ...}
    POST /api/validate-yaml                        -> {"errors": [], "warnings": []}
    POST /api/datasets/<repo>/preupload/<rev>      -> uploadMode lfs (binary or > 10 kB) | regular
    POST /datasets/<repo>.git/info/lfs/objects/batch -> basic upload + verify actions
    PUT  /lfs/<oid>                                -> stores the object (sha256 checked)
    POST /lfs-verify                               -> checks the object is stored
    POST /api/datasets/<repo>/commit/<rev>         -> NDJSON commit; files land in ``repos``
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.lfs: dict[str, bytes] = {}
        self.created: list[dict[str, Any]] = []
        self.commits: list[dict[str, Any]] = []
        self.unhandled: list[str] = []
        self.lfs_uploads = 0
        self.auth: set[str] = set()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:  # keep pytest output clean
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, code: int, obj: Any = None) -> None:
                data = json.dumps(obj if obj is not None else {}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                body = self._body()
                m = re.fullmatch(r"/lfs/([0-9a-f]{64})", self.path)
                if not m or hashlib.sha256(body).hexdigest() != m.group(1):
                    hub.unhandled.append(f"PUT {self.path}")
                    return self._send(400, {"error": "bad lfs upload"})
                hub.lfs[m.group(1)] = body
                hub.lfs_uploads += 1
                self._send(200)

            def do_POST(self) -> None:
                body = self._body()
                hub.auth.add(self.headers.get("Authorization", ""))
                path = self.path.split("?")[0]
                base = f"http://{self.headers['Host']}"
                if path == "/api/repos/create":
                    req = json.loads(body)
                    hub.created.append(req)
                    repo = f"{req['organization']}/{req['name']}"
                    hub.repos.setdefault(repo, {})
                    return self._send(200, {"url": f"{base}/datasets/{repo}"})
                if path == "/api/validate-yaml":
                    return self._send(200, {"errors": [], "warnings": []})
                m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/preupload/([^/]+)", path)
                if m:
                    files = []
                    for f in json.loads(body)["files"]:
                        sample = base64.b64decode(f["sample"])
                        lfs = b"\0" in sample or f["size"] > 10_000
                        files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False})
                    return self._send(200, {"files": files, "commitOid": "0" * 40})
                m = re.fullmatch(r"/datasets/([^/]+/[^/]+)\.git/info/lfs/objects/batch", path)
                if m:
                    objs = [{"oid": o["oid"], "size": o["size"], "authenticated": True,
                             "actions": {"upload": {"href": f"{base}/lfs/{o['oid']}"},
                                         "verify": {"href": f"{base}/lfs-verify"}}}
                            for o in json.loads(body)["objects"]]
                    return self._send(200, {"transfer": "basic", "objects": objs})
                if path == "/lfs-verify":
                    o = json.loads(body)
                    ok = o["oid"] in hub.lfs and len(hub.lfs[o["oid"]]) == o["size"]
                    return self._send(200 if ok else 404, {})
                m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/commit/([^/]+)", path)
                if m:
                    repo = m.group(1)
                    if repo not in hub.repos:
                        return self._send(404, {"error": "Repository not found"})
                    lines = [json.loads(x) for x in body.splitlines() if x.strip()]
                    staged = {}
                    for item in lines:
                        v = item["value"]
                        if item["key"] == "file":
                            staged[v["path"]] = base64.b64decode(v["content"])
                        elif item["key"] == "lfsFile":
                            if v["oid"] not in hub.lfs:
                                return self._send(400, {"error": f"LFS object {v['oid']} was never uploaded"})
                            staged[v["path"]] = hub.lfs[v["oid"]]
                    hub.repos[repo].update(staged)
                    hub.commits.append({"repo": repo, "header": lines[0]["value"], "paths": sorted(staged)})
                    oid = hashlib.sha1(json.dumps(sorted(staged)).encode()).hexdigest()
                    return self._send(200, {"commitUrl": f"{base}/datasets/{repo}/commit/{oid}", "commitOid": oid,
                                            "success": True})
                hub.unhandled.append(f"POST {self.path}")
                self._send(404, {"error": "not found"})

            def do_GET(self) -> None:
                hub.unhandled.append(f"GET {self.path}")
                self._send(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
