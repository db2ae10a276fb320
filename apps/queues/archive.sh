#!/bin/bash
# apps/queues/archive.sh — keep the record of finished queue runs in the repository.
#
#   apps/queues/archive.sh RUNS_ROOT [OUT_DIR]       (default OUT_DIR: apps/results/runs)
#   e.g. apps/queues/archive.sh runs
#
# A run directory holds checkpoints (megabytes) that are not committed, and a few small files that
# are its result: config.json (every flag, so `apps/eval` and a rerun can reproduce it), metrics.jsonl
# (the loss and validation metrics of every epoch, with wall times), test.json (the best-validation
# checkpoint's metrics) and the exact command (RUNS_ROOT/QUEUE/TAG.cmd). This copies those files of
# every finished run (test.json present) to OUT_DIR/QUEUE/TAG/, so that the README's tables can be
# rebuilt from the repository alone (apps/results_table.py reads these directories as it reads runs):
#   /usr/bin/python3 apps/results_table.py apps/results/runs/ml100k-325-every ...
# A run still going is skipped; running this again refreshes what changed.
set -u
root=${1:?usage: archive.sh RUNS_ROOT [OUT_DIR]}
out=${2:-apps/results/runs}
n=0
for test in "$root"/*/*/test.json; do
    [ -f "$test" ] || continue
    run=$(dirname "$test")
    tag=$(basename "$run")
    queue=$(basename "$(dirname "$run")")
    dest=$out/$queue/$tag
    mkdir -p "$dest"
    for f in config.json metrics.jsonl test.json; do
        [ -f "$run/$f" ] && cp "$run/$f" "$dest/$f"
    done
    [ -f "$root/$queue/$tag.cmd" ] && cp "$root/$queue/$tag.cmd" "$dest/command.txt"
    # peak memory and wall time of the whole run, from /usr/bin/time -v in the queue's stderr file
    if [ -f "$root/$queue/$tag.err" ]; then
        grep -E 'Elapsed \(wall clock\)|Maximum resident set size|Exit status' "$root/$queue/$tag.err" \
            > "$dest/time.txt" 2> /dev/null || true
    fi
    n=$((n + 1))
done
echo "archive: $n finished runs copied to $out" >&2
