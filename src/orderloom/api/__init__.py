"""The HTTP API: FastAPI routers per capability, authentication and roles."""
