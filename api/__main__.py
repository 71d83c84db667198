"""`python -m api`: serves the app with uvicorn on TASKRUNNER_API_HOST / TASKRUNNER_API_PORT (8004)."""

from __future__ import annotations

import uvicorn

from api.settings import ApiSettings


def main() -> None:
    """Runs the API until interrupted."""
    cfg = ApiSettings()
    # No per-message deflate: progress messages are a few hundred bytes, and compressing each one once per socket
    # was a visible share of a fan-out's CPU (bench/ws_fanout.py, profiled with py-spy).
    uvicorn.run("api.app:app", host=cfg.host, port=cfg.port, proxy_headers=True, ws_per_message_deflate=False)


if __name__ == "__main__":
    main()
