"""A real HTTP server on 127.0.0.1 that speaks the chat-completions protocol, for the model critic's tests.

``POST /v1/chat/completions`` answers from the shapes world's exact critic (see fake_vlm_world);
``GET /v1/models`` lists the served models. The official openai client talks to it over HTTP, so
the tests exercise sculpt's real transport, retries, parsing and fallbacks.

Misbehaviour is queued per test: each request takes the next fault, if any::

    server.fail("invalid_json", Fault("status", status=429, retry_after=1))

Standing behaviours are attributes: ``reject_json_schema``, ``reject_json_object``,
``max_image_side``, ``world.box_format``, ``world.prefer``, ``logprobs`` (False: a server that
never returns logprobs, as some do; VQA questions then get a bare "Yes"/"No"). Every request is
recorded; a request asking for logprobs is of kind "vqa".
"""
from __future__ import annotations

import collections
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fake_vlm_world import ParsedRequest, ShapesWorld

FAULTS = ("invalid_json", "schema_error", "missing_verdict", "fenced", "status", "slow", "refusal", "empty",
          "no_choices", "image_too_large", "echo_auth", "repeat", "content")


@dataclass
class Fault:
    kind: str
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0  # for "slow"
    text: str = ""  # for "content": the reply's exact text

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {FAULTS}")


@dataclass
class Recorded:
    """One request as the server saw it, and what it did."""

    path: str
    headers: dict[str, str]
    body: dict | None
    raw: str
    kind: str | None = None
    fault: str | None = None
    status: int = 200
    response_format: str | None = None
    image_sizes: list[tuple[int, int]] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    usage: tuple[int, int] = (0, 0)
    reply: str | None = None


class FakeOpenAIServer:
    def __init__(self, models: tuple[str, ...] = ("fake-vlm",)):
        self.models = list(models)
        self.world = ShapesWorld()
        self.reject_json_schema = False
        self.reject_json_object = False
        self.max_image_side: int | None = None
        self.logprobs = True
        self.requests: list[Recorded] = []
        self._faults: collections.deque[Fault] = collections.deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- control ---------------------------------------------------------------------------------
    def fail(self, *faults: Fault | str) -> None:
        with self._lock:
            self._faults.extend(f if isinstance(f, Fault) else Fault(f) for f in faults)

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "FakeOpenAIServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a slow reply still sleeping must not hold up the test
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    # -- answering -------------------------------------------------------------------------------
    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def handle_chat(self, rec: Recorded) -> tuple[int, dict, dict[str, str]]:
        """(status, JSON body, extra headers) for one chat-completions request."""
        body = rec.body or {}
        rf = (body.get("response_format") or {}).get("type")
        rec.response_format = rf
        req = ParsedRequest(body)
        rec.kind = req.kind
        rec.image_sizes = [im.size for im in req.images]
        rec.details = [p.get("detail") for p in req.image_parts]
        fault = self._next_fault()
        rec.fault = fault.kind if fault else None
        if fault is not None and fault.kind == "status":
            headers = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return fault.status, _error(f"fault injected: HTTP {fault.status}"), headers
        if fault is not None and fault.kind == "echo_auth":
            # A misconfigured proxy that reflects the request's credentials in its error.
            return 401, _error(f"invalid credentials: {rec.headers.get('authorization')}"), {}
        if fault is not None and fault.kind == "image_too_large" or (
                self.max_image_side and any(max(s) > self.max_image_side for s in rec.image_sizes)):
            sizes = ", ".join(f"{w}x{h}" for w, h in rec.image_sizes)
            return 400, _error(f"Image size {sizes} exceeds the maximum of {self.max_image_side} pixels"), {}
        if rf == "json_schema" and self.reject_json_schema:
            return 400, _error("response_format type 'json_schema' is not supported by this server"), {}
        if rf == "json_object" and self.reject_json_object:
            return 400, _error("'response_format.type' must be 'json_schema' or 'text'"), {}
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        if body.get("logprobs"):
            return self._vqa(rec, req, body)
        answer = self.world.answer(req)
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        choices: list[dict] = [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}]
        kind = fault.kind if fault else None
        if kind == "refusal":
            message["refusal"] = "I'm sorry, I can't help with that request."
        elif kind == "empty":
            message["content"] = ""
        elif kind == "no_choices":
            choices = []
        else:
            if kind == "schema_error":
                answer.pop(next(iter(answer)))  # the first required field goes missing
            elif kind == "missing_verdict":
                answer["verdicts"] = answer["verdicts"][:-1]
            elif kind == "repeat":
                tried = req.json_value("tried") or [req.block("current_prompt")]
                answer["prompt"] = tried[0]
            text = json.dumps(answer)
            if kind == "invalid_json":
                text = text[: len(text) // 2]  # cut off mid-object
            elif kind == "content":
                text = fault.text
            elif kind == "fenced" or rf is None:
                # Without a response_format a chatty model wraps its JSON in prose and a fence.
                text = f"Here is my assessment.\n```json\n{json.dumps(answer, indent=2)}\n```\nHope this helps!"
            message["content"] = text
        rec.reply = message["content"] or message["refusal"]
        prompt_tokens = 20 + len(req.text) // 4 + 85 * len(req.images)
        completion_tokens = max(1, len(rec.reply or "") // 4)
        rec.usage = (prompt_tokens, completion_tokens)
        out = {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
               "model": body.get("model"), "choices": choices,
               "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                         "total_tokens": prompt_tokens + completion_tokens}}
        return 200, out, {}


    def _vqa(self, rec: Recorded, req: ParsedRequest, body: dict) -> tuple[int, dict, dict[str, str]]:
        """The first answer token to a VQAScore question, with its logprobs (the top two) when the
        server gives logprobs."""
        rec.kind = "vqa"
        match = re.search(r'Does this figure show "(.*)"\? Please answer Yes or No\.', req.text)
        p = self.world.p_yes(match.group(1) if match else "", req.images[0])
        token = "Yes" if p >= 0.5 else "No"
        logprobs = None
        if self.logprobs:
            top = [{"token": t, "logprob": math.log(q), "bytes": list(t.encode())}
                   for t, q in sorted((("Yes", p), ("No", 1 - p)), key=lambda x: -x[1])]
            logprobs = {"content": [{**top[0], "top_logprobs": top[: body.get("top_logprobs") or 0]}], "refusal": None}
        rec.reply = token
        rec.usage = (20 + len(req.text) // 4 + 85 * len(req.images), 1)
        message = {"role": "assistant", "content": token, "refusal": None}
        return 200, {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                     "model": body.get("model"), "choices": [{"index": 0, "message": message, "finish_reason": "length",
                                                              "logprobs": logprobs}],
                     "usage": {"prompt_tokens": rec.usage[0], "completion_tokens": 1,
                               "total_tokens": rec.usage[0] + 1}}, {}


def _error(message: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers
    owner: FakeOpenAIServer

    def log_message(self, *args: Any) -> None:  # quiet: the tests read ``requests`` instead
        pass

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a "slow" fault); nothing left to tell it

    def _record(self, body: dict | None, raw: str) -> Recorded:
        rec = Recorded(path=self.path, headers={k.lower(): v for k, v in self.headers.items()}, body=body, raw=raw)
        with self.owner._lock:
            self.owner.requests.append(rec)
        return rec

    def do_GET(self) -> None:
        self._record(None, "")
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                                         "owned_by": "sculpt-tests"} for m in self.owner.models]})
        else:
            self._send(404, _error(f"no route {self.path}"))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            self._record(None, raw)
            self._send(400, _error("the request body is not JSON"))
            return
        rec = self._record(body, raw)
        if self.path.rstrip("/") != "/v1/chat/completions":
            rec.status = 404
            self._send(404, _error(f"no route {self.path}"))
            return
        if body.get("model") not in self.owner.models:
            rec.status = 404
            self._send(404, _error(f"The model `{body.get('model')}` does not exist."))
            return
        try:
            status, payload, headers = self.owner.handle_chat(rec)
        except Exception as exc:  # a bug in the test server must show up as such, not as a hang
            status, payload, headers = 500, _error(f"test server failed: {type(exc).__name__}: {exc}"), \
                {"x-should-retry": "false"}
        rec.status = status
        self._send(status, payload, headers)


TEST_KEY = "sk-test-QuiteSecret-0123456789abcdef"


def clean_env(monkeypatch) -> None:
    """Tests must not pick up a developer's real server or key from the environment."""
    import os

    for name in list(os.environ):
        if name.startswith(("SCULPT_VLM_", "OPENAI_")) or name == "SCULPT_CONFIG":
            monkeypatch.delenv(name)


def image_urls(rec: Recorded) -> list[str]:
    """The data URLs of the images in a recorded request's first user message."""
    user = next(m["content"] for m in rec.body["messages"] if m["role"] == "user")
    return [p["image_url"]["url"] for p in user if isinstance(p, dict) and p.get("type") == "image_url"]
