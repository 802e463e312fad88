#!/usr/bin/env bash
# A producer with nothing but curl (docs/publishing.md): create a producer session, publish a batch, stream
# NDJSON lines over one request, end with `done`. Prints the session's subscriber URL first.
#
#   RELAYCAST_URL=http://127.0.0.1:8080 RELAYCAST_API_KEY=rk_... docs/examples/publish-curl.sh
set -euo pipefail
base="${RELAYCAST_URL:?set RELAYCAST_URL}"
key="${RELAYCAST_API_KEY:?set RELAYCAST_API_KEY}"

# 1. Create: the answer carries the subscribe side (token, eventsUrl) and the producer side (producer.*).
created=$(curl -sS --fail-with-body -X POST "$base/v1/sessions" \
  -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d '{"producer": true}')
field() { printf '%s' "$created" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
id=$(field id)
producer_token=$(printf '%s' "$created" | sed -n 's/.*"producer":{"token":"\([^"]*\)".*/\1/p')
echo "session $id"
echo "subscribe: $base$(field eventsUrl)"

# 2. A batch: epoch 1 (from create), producer seqs 1..3. Retrying this exact request never duplicates.
curl -sS --fail-with-body -X POST "$base/v1/sessions/$id/publish" \
  -H "Authorization: Bearer $producer_token" -H 'Content-Type: application/json' \
  -d '{"epoch": 1, "seq": 1, "events": [
        {"type": "delta", "text": "Hello"},
        {"type": "search.results", "data": {"hits": 3}},
        {"type": "delta", "text": ", world"}]}'
echo

# 3. A stream: one request, one event per line, each appended as it arrives (seqs 4, 5, ...).
{
  for word in " from" " a" " shell"; do
    printf '{"type":"delta","text":"%s"}\n' "$word"
    sleep 0.1
  done
  printf '{"type":"done","finishReason":"stop"}\n'
} | curl -sS --fail-with-body -X POST "$base/v1/sessions/$id/publish?epoch=1&seq=4" \
  -H "Authorization: Bearer $producer_token" -H 'Content-Type: application/x-ndjson' -T -
echo
