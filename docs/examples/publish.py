#!/usr/bin/env python3
"""A producer in Python with only the standard library (docs/publishing.md).

Creates a producer session, publishes a batch (retried safely on a timeout), streams NDJSON lines over one
chunked request, and ends with `done`. Prints the subscriber URL first.

    RELAYCAST_URL=http://127.0.0.1:8080 RELAYCAST_API_KEY=rk_... python3 docs/examples/publish.py
"""
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ["RELAYCAST_URL"]
KEY = os.environ["RELAYCAST_API_KEY"]


def post(path, token, body, timeout=10):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as res:
        return json.load(res)


def publish(session, seq, events, attempts=5):
    """One batch. A retry sends the same epoch and seq: Relaycast acknowledges it without appending twice."""
    p = session["producer"]
    for attempt in range(1, attempts + 1):
        try:
            return post(p["publishUrl"], p["token"], {"epoch": p["epoch"], "seq": seq, "events": events})
        except urllib.error.HTTPError as e:
            error = json.load(e).get("error", {})
            # 409 session_cancelled / session_ended / producer_fenced: stop the upstream, do not retry.
            if e.code not in (429, 502, 503, 504) or attempt == attempts:
                raise RuntimeError(f"publish refused: {e.code} {error.get('code')}: {error.get('message')}")
            time.sleep(float(e.headers.get("Retry-After", "1")))
        except (urllib.error.URLError, TimeoutError):
            if attempt == attempts:
                raise
            time.sleep(0.2 * attempt)


def stream(session, first_seq, lines):
    """One long-lived request; each line is appended as it arrives (chunked transfer encoding)."""
    p = session["producer"]
    url = urllib.parse.urlsplit(BASE)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    body = (json.dumps(line).encode() + b"\n" for line in lines)
    conn.request("POST", f"{p['publishUrl']}?epoch={p['epoch']}&seq={first_seq}", body=body, encode_chunked=True,
                 headers={"Authorization": "Bearer " + p["token"], "Content-Type": "application/x-ndjson"})
    res = conn.getresponse()
    answer = json.load(res)
    conn.close()
    if res.status != 200:
        raise RuntimeError(f"stream refused: {res.status} {answer}")
    return answer


def words():
    for w in [" from", " the", " standard", " library"]:
        yield {"type": "delta", "text": w}
        time.sleep(0.05)
    yield {"type": "done", "finishReason": "stop"}


if __name__ == "__main__":
    session = post("/v1/sessions", KEY, {"producer": True, "label": "python"})
    print("session", session["id"])
    print("subscribe:", BASE + session["eventsUrl"], flush=True)
    ack = publish(session, 1, [{"type": "delta", "text": "Hello"}, {"type": "app.step", "data": {"n": 1}}])
    print("batch:", json.dumps(ack), flush=True)
    print("stream:", json.dumps(stream(session, ack["nextSeq"], words())), flush=True)
