"""What scripts/attack-api adds to schemathesis: how to send a body as NDJSON (one JSON value per line), which
POST /v1/events takes beside a JSON object or array. Schemathesis knows JSON and YAML, not NDJSON."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, str):
        return value.encode("utf-8")  # the text itself: NDJSON is text
    values = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in values).encode("utf-8")
