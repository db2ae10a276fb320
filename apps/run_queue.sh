#!/bin/bash
# apps/run_queue.sh — run a queue of training runs, resumably, with one or more workers.
#
#   apps/run_queue.sh RUNS_ROOT WORKERS QUEUE_FILE [QUEUE_FILE ...]
#   e.g. apps/run_queue.sh runs 2 apps/queues/loo-baselines.txt apps/queues/ml100k-325.txt
#
# A QUEUE_FILE holds one run per line: a tag, then the flags of apps/train (no --out, no --quiet);
# `#` starts a comment, blank lines are skipped. The runs of queue Q.txt go to RUNS_ROOT/Q: the run's
# directory is RUNS_ROOT/Q/TAG, its JSON report TAG.json, its stderr TAG.err (with /usr/bin/time -v),
# the exact command TAG.cmd beside it. The queues are worked through in the order given.
#
# Why a queue: the experiments of the papers are hours of training on 2 cores. This script can be
# killed at any time and started again: a finished run (TAG/test.json present) is skipped, an
# interrupted one continues from its last epoch with `train --resume`. With WORKERS > 1 the workers
# take lines in order and never the same one (a lock directory per run, holding the worker's PID;
# the lock of a worker that died is taken over). A worker reads a queue file whole when it reaches it:
# later edits count for workers started afterwards. Give each run `--threads 1` when WORKERS = 2 on a
# 2-core machine. Runs are independent, so results do not depend on the number of workers.
set -u
usage="usage: run_queue.sh RUNS_ROOT WORKERS QUEUE_FILE [QUEUE_FILE ...]"
root=${1:?$usage}
workers=${2:?$usage}
shift 2
[ $# -gt 0 ] || { echo "run_queue: $usage" >&2; exit 2; }
train=${TRAIN:-./build/apps/train}
for q in "$@"; do [ -f "$q" ] || { echo "run_queue: queue file '$q' not found" >&2; exit 2; }; done
[ -x "$train" ] || { echo "run_queue: '$train' not found: build first" >&2; exit 2; }
[[ "$workers" =~ ^[1-9][0-9]*$ ]] || { echo "run_queue: WORKERS must be a positive integer" >&2; exit 2; }

claim() {  # TAG -> 0 if this worker now owns the run
    local lock=$runs/$1.lock
    if mkdir "$lock" 2> /dev/null; then echo $BASHPID > "$lock/pid"; return 0; fi
    local pid
    pid=$(cat "$lock/pid" 2> /dev/null || echo "")
    if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then return 1; fi
    rm -rf "$lock"  # its worker is gone (killed, or an earlier session)
    mkdir "$lock" 2> /dev/null || return 1
    echo $BASHPID > "$lock/pid"
    return 0
}

run_one() {  # TAG FLAGS...
    local tag=$1
    shift
    local out=$runs/$tag
    if [ -f "$out/resume.safetensors" ]; then
        echo "$(date +%T) resume $tag" >&2
        /usr/bin/time -v "$train" --resume "$out" --quiet > "$out.json" 2>> "$out.err"
    else
        echo "$train $* --quiet --out $out" > "$out.cmd"
        echo "$(date +%T) start  $tag" >&2
        /usr/bin/time -v "$train" "$@" --quiet --out "$out" > "$out.json" 2> "$out.err"
    fi
    local rc=$?
    echo "$(date +%T) done   $tag (exit $rc)" >&2
}

worker() {  # QUEUE_FILE...
    local queue line tag lines
    for queue in "$@"; do
    runs=$root/$(basename "$queue" .txt)
    mkdir -p "$runs"
    # The whole file is read before the first run starts: a loop reading it line by line as it goes
    # kept a byte offset into the file, so editing the file under a running worker (an editor
    # writing in place, or git replacing it) made it read from the middle of a line and run the
    # fragment as a run (seen: tag "-fe", a default training started by hand-edited queue).
    mapfile -t lines < "$queue"
    for line in "${lines[@]}"; do
        line=${line%%#*}
        read -r -a words <<< "$line"
        [ ${#words[@]} -eq 0 ] && continue
        tag=${words[0]}
        [ -f "$runs/$tag/test.json" ] && continue
        [ -f "$runs/$tag.failed" ] && continue
        claim "$tag" || continue
        # Checked again under the lock: another worker may have finished this run and released
        # its lock between the check above and the claim (it then ran twice).
        if [ -f "$runs/$tag/test.json" ] || [ -f "$runs/$tag.failed" ]; then rm -rf "$runs/$tag.lock"; continue; fi
        run_one "${words[@]}"
        [ -f "$runs/$tag/test.json" ] || touch "$runs/$tag.failed"
        rm -rf "$runs/$tag.lock"
    done
    done
}

for ((w = 1; w < workers; w++)); do worker "$@" & done
worker "$@"
wait
