"""A local OpenAI-compatible chat-completions server for the annotation tests (127.0.0.1, a free port).

Each request's reply is chosen by the first rule in ``script`` whose text occurs in the user message:
a list of steps used one per request (the last one repeats): ``("json", text)`` answers ``text`` as the
assistant's message, ``("status", code)`` fails with that HTTP status (``Retry-After: 0``), ``("sleep", s)``
answers after ``s`` seconds.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(self, script: dict[str, list[tuple[str, object]]]) -> None:
        self.script = script
        self.requests: list[dict] = []
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                kind, value = server._step(body)
                if kind == "status":
                    self.send_response(int(value))  # type: ignore[arg-type]
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": "try later"}')
                    return
                if kind == "sleep":
                    time.sleep(float(value))  # type: ignore[arg-type]
                    value = '{"rule_a": "A", "rule_b": "B"}'
                payload = {"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": value}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _step(self, body: dict) -> tuple[str, object]:
        user = body["messages"][-1]["content"]
        with self._lock:
            self.requests.append(body)
            for text, steps in self.script.items():
                if text in user:
                    used = self._used.get(text, 0)
                    self._used[text] = used + 1
                    return steps[min(used, len(steps) - 1)]
        return ("json", "null")

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
