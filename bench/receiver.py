"""`python -m bench.receiver PORT`: a webhook receiver for the benchmarks, uvicorn with a bare
ASGI app (no framework, so it is not what bounds the figures): every POST is answered 204 and
its arrival time kept by the call id of its body; `GET /arrivals` answers them as JSON."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import uvicorn

ARRIVALS: dict[str, float] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] == "POST":
        arrived = time.time()
        ARRIVALS.setdefault(json.loads(body)["data"]["id"], arrived)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    answer = json.dumps(ARRIVALS).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
