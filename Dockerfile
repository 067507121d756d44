# One image for every wirestream service; docker-compose.yml picks the subcommand.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# The stages run torch on tcmalloc when it is there (WIRESTREAM_ALLOCATOR, wirestream/allocator.py).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libtcmalloc-minimal4 \
    && rm -rf /var/lib/apt/lists/*

# A CPU-only torch is much smaller: pass an index that serves one with
#   docker compose build --build-arg PIP_EXTRA_INDEX_URL=<index>
ARG PIP_EXTRA_INDEX_URL=""
COPY pyproject.toml README.md ./
COPY wirestream ./wirestream
COPY schemas ./schemas
COPY services ./services
COPY seeds ./seeds
COPY models ./models
# The models go into the installed package's data files (wirestream.config.models_dir finds them there):
# keeping the copied folder too would carry them twice.
RUN pip install . && rm -rf models

RUN useradd --create-home wirestream && mkdir -p /data && chown wirestream /data
USER wirestream
ENV WIRESTREAM_DATABASE_PATH=/data/wirestream.db
ENTRYPOINT []
CMD ["wirestream", "--help"]
