"""Images API v2: JSON, json-patch, schemas, tags, members, import; routes at /v2."""
