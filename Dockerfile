# One image for every service: the workers, Beat, Flower and the API differ only in their compose `command`.
FROM python:3.11-slim

# PYTHONPATH: every top-level module (worker, tasks, api, beat_schedule, ...) imports from the source tree.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

# Dependencies first, from pyproject alone, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
print("\n".join(p["dependencies"] + p.get("optional-dependencies", {}).get("yfinance", [])))' \
    > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
    && groupadd --system app && useradd --system --gid app --home-dir /app app \
    && mkdir -p /app/.taskrunner && chown app:app /app/.taskrunner

# No service needs root: a task that misbehaves must not own the container (Celery warns about root too).
USER app

CMD ["celery", "-A", "worker", "worker", "--loglevel", "INFO"]
