"""The JSON API under /api/v1 for the ARS's tools: bearer tokens only, problem+json errors,
documented by OpenAPI at /api/openapi.json with a readable page at /api/."""
