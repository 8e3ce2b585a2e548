"""Pydantic models: the request and response contracts the OpenAPI document is built from."""
