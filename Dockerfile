# syntax=docker/dockerfile:1
# Multi-stage build: wheels are built in the first stage, the runtime image carries no compiler.
FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md alembic.ini ./
COPY core ./core
COPY cards ./cards
COPY bot ./bot
COPY webhooks ./webhooks
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CHATDESK_HTTP__HOST=0.0.0.0 CHATDESK_HTTP__PORT=8080
# Pango and CJK fonts for the PDF service report (WeasyPrint)
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    fonts-noto-cjk && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 chatdesk
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /app
RUN mkdir -p /app/var/media && chown -R chatdesk:chatdesk /app/var
USER chatdesk
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
CMD ["chatdesk", "serve"]
