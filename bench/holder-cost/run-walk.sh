#!/bin/bash
# The walk approach (leakwatch's holder search) at 50, 200 and 1000 MB, then the WIDE heap
# (a tree of small linked objects: the visit cap decides the cost), then the MANY heap (400 tenants'
# medium Maps and Arrays of objects: turnover probes, families, path memory). One run at a time.
# Needs `npm run build` at the repo root first. Results: results/walk.jsonl, results/walk-wide.jsonl, results/walk-many.jsonl
cd "$(dirname "$0")"
REPS=${REPS:-3}
mkdir -p results
for mb in ${SIZES:-50 200 1000}; do
  echo "=== walk $mb $(date +%T)"; node run.js walk $mb $REPS
done
for mb in ${WIDE_SIZES:-200 1000}; do
  echo "=== walk WIDE $mb $(date +%T)"; WIDE=1 RESULT_SUFFIX=-wide node run.js walk $mb $REPS
done
for mb in ${MANY_SIZES:-200 1000}; do
  echo "=== walk MANY $mb $(date +%T)"; MANY=1 RESULT_SUFFIX=-many node run.js walk $mb $REPS
done
echo "=== DONE $(date +%T)"
