"""Names and limits of the endpoint protocol, shared by the app's parts."""

from __future__ import annotations

import re

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
REQUEST_TYPES = (CSV, JSON, JSONLINES, RECORDIO)
RESPONSE_TYPES = (JSON, JSONLINES, RECORDIO, CSV)
DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024
#: Seconds allowed to receive a request body, and again to score it.
DEFAULT_REQUEST_TIMEOUT = 60.0
VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
VARIANT_NAME = "AllTraffic"
METRICS_TYPE = "text/plain; version=0.0.4"
# Longest error message sent back; longer ones are cut with "...".
MAX_MESSAGE_CHARS = 512
ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# Longest piece of a header or path quoted back in an error message.
MAX_QUOTE_CHARS = 40
