"""The HTTP API: seed 001's progress endpoints, live WebSocket/SSE streams, notifications and a dashboard."""
