#!/usr/bin/env bash
# The GPU figures of bench.stage_speed in one call of the device tool (under 8 minutes on an H200):
# NER and sentiment stages against their bare models, float32 and bfloat16, stage batches 64 and 1000,
# 1000 BBC articles. Results land in $OUT (and bench/results/stage_speed_gpu.*) with the GPU named.
#
# Before the call, on the development machine (the device has torch and transformers, not pydantic):
#   echo /.whl/ >> .git/info/exclude; echo /.bbc/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     pydantic pydantic-core pydantic-settings annotated-types typing-inspection python-dotenv
#   mkdir -p .bbc/news && cp -r ../shared/data/news/bbc .bbc/news/
# then run this with carry [".whl", ".bbc"].
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
else
  export PYTHONPATH="$PWD"
fi
export WIRESTREAM_DATA_DIR="${WIRESTREAM_DATA_DIR:-$PWD/.bbc}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -m bench.stage_speed --device cuda --precision float32,bfloat16 --batch 64,1000 --articles 1000 \
  --repeats 3 --name gpu 2>&1 | tee "${OUT:-/tmp}/stage_speed_gpu.log"
cp bench/results/stage_speed_gpu.* "${OUT:-/tmp}/" 2>/dev/null || true
