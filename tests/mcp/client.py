"""Drives `host mcp` with the official Python MCP client (ClientSession over
stdio, protocol 2025-11-25) and with a raw JSON-RPC client (for the
2026-07-28 era, cancellation, and reading every byte the server writes).

Usage: python client.py SCENARIO CONFIG_JSON
CONFIG_JSON: {"command": "...host", "args": [...], "env": {...}}
Prints one JSON object on stdout: what the client saw. The Rust test
(tests/all/mcp.rs) asserts it together with the host-side state.
"""

import asyncio
import json
import subprocess
import sys
import threading
import time

from mcp import ClientSession, types
from mcp.client.stdio import StdioServerParameters, stdio_client


def dump(value):
    print(json.dumps(value, default=str))


def result_json(result):
    return {
        "is_error": bool(result.is_error),
        "text": "".join(c.text for c in result.content if getattr(c, "type", "") == "text"),
        "structured": result.structured_content,
    }


async def sdk(config, scenario):
    params = StdioServerParameters(command=config["command"], args=config["args"], env=config.get("env"))
    answer = config.get("answer")
    asked = []

    async def on_elicit(context, params):
        asked.append(params.message)
        return types.ElicitResult(action=answer, content={} if answer == "accept" else None)

    callback = on_elicit if answer else None
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, elicitation_callback=callback) as session:
            init = await session.initialize()
            out = {"protocol": init.protocol_version}
            if scenario == "list":
                first = await session.list_tools()
                second = await session.list_tools()
                out["tools"] = [t.model_dump(by_alias=True, exclude_none=True) for t in first.tools]
                out["same_order"] = [t.name for t in first.tools] == [t.name for t in second.tools]
            elif scenario == "calls":
                out["results"] = []
                for call in config["calls"]:
                    r = await session.call_tool(call["name"], call["arguments"])
                    out["results"].append(result_json(r))
                out["asked"] = asked
            dump(out)


class Raw:
    """A bare JSON-RPC client over the server's stdio; keeps every line read."""

    def __init__(self, config):
        self.proc = subprocess.Popen(
            [config["command"], *config["args"]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            env=config.get("env"),
        )
        self.lines = []
        self.responses = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.next_id = 0

    def _read(self):
        for line in self.proc.stdout:
            text = line.decode("utf-8", "replace")
            with self.cond:
                self.lines.append(text)
                try:
                    msg = json.loads(text)
                except ValueError:
                    msg = None
                if isinstance(msg, dict) and "id" in msg and ("result" in msg or "error" in msg):
                    self.responses[msg["id"]] = msg
                self.cond.notify_all()

    def send(self, method, params=None, notify=False):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        if not notify:
            self.next_id += 1
            msg["id"] = self.next_id
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()
        return msg.get("id")

    def wait(self, id, timeout=60):
        deadline = time.time() + timeout
        with self.cond:
            while id not in self.responses:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"no response to {id}")
                self.cond.wait(left)
            return self.responses[id]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


MODERN = "2026-07-28"


def modern_meta(capabilities=None):
    return {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                      "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
                      "io.modelcontextprotocol/clientCapabilities": capabilities or {}}}


def raw(config, scenario):
    c = Raw(config)
    out = {}
    if scenario == "modern":
        d = c.wait(c.send("server/discover", modern_meta()))
        out["discover"] = d
        params = modern_meta()
        out["list"] = c.wait(c.send("tools/list", params))
        call = dict(modern_meta(), name=config["call"]["name"], arguments=config["call"]["arguments"])
        out["call"] = c.wait(c.send("tools/call", call))
    elif scenario == "modern_ask":
        c.wait(c.send("server/discover", modern_meta()))
        name, args = config["call"]["name"], config["call"]["arguments"]
        caps = {"elicitation": {"form": {}}}
        first = c.wait(c.send("tools/call", dict(modern_meta(caps), name=name, arguments=args)))
        out["first"] = first
        state = first.get("result", {}).get("requestState")
        key = next(iter(first.get("result", {}).get("inputRequests", {}) or {"none": 0}))
        forged = dict(modern_meta(caps), name=name, arguments=args,
                      inputResponses={key: {"action": "accept", "content": {}}}, requestState="forged")
        out["forged"] = c.wait(c.send("tools/call", forged))
        retry = dict(modern_meta(caps), name=name, arguments=args,
                     inputResponses={key: {"action": config["answer"], "content": {}}}, requestState=state)
        out["retry"] = c.wait(c.send("tools/call", retry))
        out["no_elicitation"] = c.wait(c.send("tools/call", dict(modern_meta(), name=name, arguments=args)))
    else:
        init = c.wait(c.send("initialize", {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        }))
        out["protocol"] = init.get("result", {}).get("protocolVersion")
        c.send("notifications/initialized", notify=True)
        if scenario == "parallel":
            # A call that never ends by itself, then one that should succeed
            # at once while the first still runs, then the first's timeout.
            slow = c.send("tools/call", {"name": config["slow"]["name"], "arguments": config["slow"]["arguments"]})
            time.sleep(0.3)
            started = time.time()
            fast = c.send("tools/call", {"name": config["fast"]["name"], "arguments": config["fast"]["arguments"]})
            out["fast"] = c.wait(fast)
            out["fast_seconds"] = time.time() - started
            out["slow"] = c.wait(slow)
        elif scenario == "cancel":
            slow = c.send("tools/call", {"name": config["slow"]["name"], "arguments": config["slow"]["arguments"]})
            time.sleep(config.get("cancel_after", 1.0))
            started = time.time()
            c.send("notifications/cancelled", {"requestId": slow, "reason": "test"}, notify=True)
            # A cancelled request gets no response; the server keeps serving.
            after = c.send("tools/call", {"name": config["fast"]["name"], "arguments": config["fast"]["arguments"]})
            out["after"] = c.wait(after)
            out["after_seconds"] = time.time() - started
            time.sleep(0.5)
            out["slow_answered"] = slow in c.responses
        elif scenario == "forged":
            hostile = c.send("tools/call", {"name": config["call"]["name"], "arguments": config["call"]["arguments"]})
            out["call"] = c.wait(hostile)
        out["lines"] = c.lines
    c.close()
    dump(out)


def http_post(url, body, headers):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json, text/event-stream")
    for k, v in headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


async def sdk_http(url, token, call):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                tools = await session.list_tools()
                r = await session.call_tool(call["name"], call["arguments"])
                return {"protocol": init.protocol_version, "tools": [t.name for t in tools.tools], "call": result_json(r)}


def http(config):
    proc = subprocess.Popen(
        [config["command"], *config["args"]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=config.get("env"),
    )
    url = None
    seen = []
    for line in proc.stderr:
        text = line.decode("utf-8", "replace")
        seen.append(text)
        if "listening on " in text:
            url = text.split("listening on ", 1)[1].strip()
            break
    if url is None:
        proc.kill()
        raise SystemExit("host mcp --http did not start: " + "".join(seen))
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    token = config["token"]
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
    port = url.split(":")[2].split("/")[0]
    out = {
        "no_token": http_post(url, init, {}),
        "wrong_token": http_post(url, init, {"Authorization": "Bearer nope"}),
        "wrong_origin": http_post(url, init, {"Authorization": f"Bearer {token}", "Origin": "http://evil.example"}),
        "wrong_host": http_post(url, init, {"Authorization": f"Bearer {token}", "Host": f"evil.example:{port}"}),
        "ok": http_post(url, init, {"Authorization": f"Bearer {token}"}),
    }
    out["sdk"] = asyncio.run(sdk_http(url, token, config["call"]))
    proc.terminate()
    proc.wait(timeout=30)
    dump(out)


def main():
    scenario, config = sys.argv[1], json.loads(sys.argv[2])
    if scenario in ("list", "calls"):
        asyncio.run(sdk(config, scenario))
    elif scenario == "http":
        http(config)
    else:
        raw(config, scenario)


if __name__ == "__main__":
    main()
