# syntax=docker/dockerfile:1
# Build stage: wheels for the gateway's dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip wheel
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY vast vast
COPY ssai ssai
COPY decision decision
COPY beacons beacons
COPY store store
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: slim, non-root, configuration by environment only.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 adgw
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /app
# The packages run from /app (PYTHONPATH) so that the paths they derive from their own
# location (fixtures/catalog.json, fixtures/models, fixtures/media for the demo origin)
# resolve inside the image.
COPY gateway gateway
COPY vast vast
COPY ssai ssai
COPY decision decision
COPY beacons beacons
COPY store store
COPY fixtures fixtures
RUN mkdir -p /app/var/spool && chown -R adgw:adgw /app/var
USER adgw
ENV PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    ADGW_SPOOL_DIR=/app/var/spool
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
STOPSIGNAL SIGTERM
CMD ["adgw", "serve"]
