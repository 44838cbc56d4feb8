"""The open JSON API: read-only, no key, published statements only.

`views` holds the routes and JSON errors, `openapi` the OpenAPI 3.1 document (whose parameter
schemas the views also validate against, so the two cannot drift), `serialize` the shapes.
"""
