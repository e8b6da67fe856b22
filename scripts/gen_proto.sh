#!/bin/sh
# Regenerates the descriptor set that toco_py/frontend/proto/graph.py loads at import.
# A descriptor set (not generated _pb2 code) keeps us free of protoc/runtime version pins.
# Needs grpcio-tools (in the [dev] extra).
set -e
cd "$(dirname "$0")/../toco_py/frontend/proto"
python -m grpc_tools.protoc -I. --descriptor_set_out=graph.desc graph.proto
