"""`python -m api`: serves the app with uvicorn on TASKRUNNER_API_HOST / TASKRUNNER_API_PORT (8004)."""

from __future__ import annotations

import uvicorn

from api.settings import ApiSettings


def main() -> None:
    """Runs the API until interrupted."""
    cfg = ApiSettings()
    uvicorn.run("api.app:app", host=cfg.host, port=cfg.port, proxy_headers=True)


if __name__ == "__main__":
    main()
