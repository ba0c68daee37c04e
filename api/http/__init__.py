"""Cession's HTTP API (FastAPI): the product's front door for agencies' integrations and the
purchaser's team. ``app.create_app(store)`` builds it over a store; `cession serve` runs it with
uvicorn. Routes live beside their services (``api/<domain>/routes.py``) and stay thin: parse,
check the caller's role, call the service, shape the answer. Errors are problem+json (RFC 9457,
``problems``); keys and roles are ``auth``'s."""
