#!/bin/bash
# apps/queues/analyze_candidates.sh — paired tests for the candidate protocol (issue 18), after the
# candidates*.txt queues have run: one row per test candidate group (eval --per-group), then
# compare_runs between models scored on the same fixed candidate lists.
#
#   apps/queues/analyze_candidates.sh PREFIX BASELINE OUT_DIR RUNS_DIR [RUNS_DIR ...]
#   e.g. apps/queues/analyze_candidates.sh beauty comirec-sa apps/results runs/candidates runs/candidates-seeds runs/candidates-din
#
# BASELINE is the best baseline on validation (the README's tables name it). Compared, B - A on the
# test groups, users resampled (leave-one-out: one group per user), each written to
# OUT_DIR/PREFIX-candidates-compare-<A>-vs-<B>[-sS].json:
#   - BASELINE seed s against TTT4Rec-FE seed s, for every seed both have;
#   - BASELINE seed 1 against TTT4Rec (Yang et al.'s model) seed 1;
#   - DIN seed 1 against TTT4Rec-FE seed 1 (the model Zhan et al. compare with first).
# A run is looked for as RUNS_DIR/PREFIX-MODEL-sS in each RUNS_DIR in turn; a missing pair is left
# out and said so. The per-group file is made once per run (RUN/per_group_test.jsonl); its summary
# must reproduce the run's test.json candidate metrics, or the script says so (a binary that
# rounds differently from the one the run was trained with: set EVAL=...). Nothing here chooses
# anything: the checkpoints were chosen on validation when the runs trained.
set -u
usage="usage: analyze_candidates.sh PREFIX BASELINE OUT_DIR RUNS_DIR [RUNS_DIR ...]"
prefix=${1:?$usage}
baseline=${2:?$usage}
out=${3:?$usage}
shift 3
[ $# -gt 0 ] || { echo "analyze_candidates: $usage" >&2; exit 2; }
build=${BUILD:-./build}
eval_bin=${EVAL:-$build/apps/eval}
mkdir -p "$out"

find_run() {  # MODEL SEED -> the run directory with a test.json, or nothing
    local d
    for d in "${run_dirs[@]}"; do
        [ -f "$d/$prefix-$1-s$2/test.json" ] && { echo "$d/$prefix-$1-s$2"; return; }
    done
}
run_dirs=("$@")

per_group() {  # RUN -> RUN/per_group_test.jsonl (made once), checked against the run's test.json
    local r=$1
    if [ ! -f "$r/per_group_test.jsonl" ]; then
        "$eval_bin" --run "$r" --part test --threads "${THREADS:-0}" --no-full-ranking \
            --per-group "$r/per_group_test.jsonl" > "$r/eval_groups.json" || return 1
    fi
    /usr/bin/python3 - "$r" <<'EOF' || echo "analyze_candidates: $r: the per-group summary differs from test.json (see above)" >&2
import json, sys
r = sys.argv[1]
want = json.load(open(r + "/test.json"))["test"]["candidates"]
line = [l for l in open(r + "/eval_groups.json") if l.startswith("{")][-1]
got = json.loads(line)["metrics"]["candidates"]
bad = [k for k in ("NDCG@10", "HR@10", "AUC", "GAUC") if abs(want[k] - got[k]) > 1e-9]
if bad:
    print(r, "test.json", {k: want[k] for k in bad}, "eval", {k: got[k] for k in bad}, file=sys.stderr)
    sys.exit(1)
EOF
}

compare() {  # MODEL_A SEED_A MODEL_B SEED_B OUT.json -> paired B - A over the test groups
    local a b
    a=$(find_run "$1" "$2")
    b=$(find_run "$3" "$4")
    if [ -z "$a" ] || [ -z "$b" ]; then
        echo "analyze_candidates: $prefix-$1-s$2 or $prefix-$3-s$4 has not finished; left out" >&2
        return 1
    fi
    per_group "$a" && per_group "$b" || return 1
    "$build/apps/compare_runs" "$a/per_group_test.jsonl" "$b/per_group_test.jsonl" \
        --metrics NDCG@10,HR@10,NDCG@5,GAUC --by-length --buckets "${BUCKETS:-1-5,6-10,11-20,21-50,51-}" \
        --pretty --out "$5" > /dev/null && echo "$5"
}

for s in 1 2 3; do
    compare "$baseline" "$s" ttt4rec-fe "$s" "$out/$prefix-candidates-compare-$baseline-vs-ttt4rec-fe-s$s.json"
done
compare "$baseline" 1 ttt4rec 1 "$out/$prefix-candidates-compare-$baseline-vs-ttt4rec-s1.json"
compare din 1 ttt4rec-fe 1 "$out/$prefix-candidates-compare-din-vs-ttt4rec-fe-s1.json"
exit 0
