# Bank voice desk: one image for the LiveKit agent worker (default CMD), the token service
# and the one-shot migration (see compose.yaml).
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM python:3.11-slim

COPY --from=uv /uv /uvx /usr/local/bin/

# The virtualenv lives outside the source tree so a host `.venv` in the build context can
# never shadow it. UV_FROZEN: install exactly what uv.lock pins, never re-resolve.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_FROZEN=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never

WORKDIR /app

# Dependencies first (cached layer), then the project itself.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

COPY . .
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

RUN useradd --create-home --uid 10001 bank
USER bank

# Agent worker; override the command for `python -m token_service` / `python -m tools.db ...`.
CMD ["uv", "run", "--no-sync", "python", "agent.py", "start"]
