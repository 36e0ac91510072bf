# dataproduct-mcp: MCP over Streamable HTTP at :8765/mcp, HTTP side (probes, ORD, streams, metrics) on the same port.
# Build: docker build -t dataproduct-mcp .   Run: docker run -p 8765:8765 -v dp-data:/data \
#   -v $PWD/tokens.json:/etc/dataproduct-mcp/tokens.json:ro dataproduct-mcp
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 dpmcp \
 && useradd --system --uid 10001 --gid dpmcp --home-dir /data --shell /usr/sbin/nologin dpmcp \
 && mkdir -p /data /etc/dataproduct-mcp && chown dpmcp:dpmcp /data
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV DPMCP_DATA_DIR=/data \
    DPMCP_ALLOWED_ROOTS=/data \
    DPMCP_LOG_FORMAT=json \
    DPMCP_AUTH_TOKENS_FILE=/etc/dataproduct-mcp/tokens.json \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8765
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8765/ready', timeout=2).status == 200 else 1)"
STOPSIGNAL SIGTERM
ENTRYPOINT ["dataproduct-mcp"]
CMD ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8765"]
