# Gongjian (共建) GraphQL backend.
#   docker build -t gongjian .
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgresql://user:pw@db:5432/gongjian \
#     -e GONGJIAN_SECRET=<at least 32 characters> gongjian
# The container needs a real PostgreSQL: it refuses to start without DATABASE_URL.

# --- build: the locked dependencies and the project into a virtual environment ----------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/gongjian
COPY requirements.lock ./
# the runtime lock only: no test tools, no embedded PostgreSQL (see README, "Dependencies")
RUN /opt/gongjian/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY gongjian ./gongjian
COPY schema ./schema
COPY resolvers ./resolvers
COPY db ./db
# the message catalogs (Chinese, English) are compiled here, at build time
RUN /opt/gongjian/bin/pybabel compile -d resolvers/locale -D gongjian \
 && /opt/gongjian/bin/pip install --no-deps . \
 && /opt/gongjian/bin/python -c "import gongjian.app, schema.root; schema.root.sdl()"

# --- GraphiQL's files, pinned by package-lock.json (no Node.js in the final image) -------
FROM node:20-bookworm-slim AS ide
WORKDIR /ide
COPY gongjian/ide/package.json gongjian/ide/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

# --- run: slim, non-root ---------------------------------------------------------------
FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /var/lib/gongjian --create-home gongjian
COPY --from=build /opt/gongjian /opt/gongjian
COPY --from=ide /ide/node_modules /opt/gongjian/ide-node_modules
RUN site=$(/opt/gongjian/bin/python -c "import gongjian, pathlib; print(pathlib.Path(gongjian.__file__).parent)") \
 && mkdir -p "$site/ide" && ln -s /opt/gongjian/ide-node_modules "$site/ide/node_modules"
ENV PATH=/opt/gongjian/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GONGJIAN_DATA_DIR=/var/lib/gongjian
USER gongjian
WORKDIR /var/lib/gongjian
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
# exec form: gongjian is PID 1 and receives SIGTERM itself (in-flight requests finish)
ENTRYPOINT ["/bin/sh", "-c", "[ -n \"$DATABASE_URL\" ] || { echo 'gongjian: set DATABASE_URL to a PostgreSQL server (the container has no embedded one)' >&2; exit 2; }; exec gongjian serve --host 0.0.0.0 --port 8000 \"$@\"", "gongjian"]
