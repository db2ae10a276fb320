#!/bin/bash
# apps/queues/analyze_ratio.sh — after apps/queues/ml100k-325-every.txt (or a queue like it) has run:
# per-sample test files, TTT4Rec - SASRec significance (overall and by history length), and the
# chart of the gap against the training share.
#
#   apps/queues/analyze_ratio.sh RUNS_DIR PREFIX OUT_DIR
#   e.g. BASELINE=gru4rec-p10 apps/queues/analyze_ratio.sh runs/ml100k-325-every ml100k apps/results
#   (EVAL=path/to/eval: the binary the runs were trained with, for the per-sample files)
#
# Expects RUNS_DIR/PREFIX-{sasrec,ttt4rec}-s1 (3:2:5; -s2, -s3 compared too when present) and, for the
# chart, -r127-s1, -r622-s1, -loo-s1 beside them (a split whose seed 1 has not run uses its lowest
# finished seed, named in the chart); a missing pair is left out and said so. Writes
# OUT_DIR/PREFIX-compare-<share>.json and OUT_DIR/PREFIX-gap.svg. Only test metrics of runs whose
# checkpoints were chosen on validation are read; nothing here chooses anything.
# One row per test sample (eval --per-sample): the mean over rows is RecBole's mean over samples, the
# bootstrap resamples users (a user's samples move together), and --by-length buckets each sample by
# the length of its own history (under 3:2:5 a user's test samples span half of the sequence).
set -u
runs=${1:?usage: analyze_ratio.sh RUNS_DIR PREFIX OUT_DIR}
prefix=${2:?usage: analyze_ratio.sh RUNS_DIR PREFIX OUT_DIR}
out=${3:?usage: analyze_ratio.sh RUNS_DIR PREFIX OUT_DIR}
build=${BUILD:-./build}
# The eval binary should be the one the runs were trained with (EVAL=...): a later build may round the
# same model's scores differently in the last bits.
eval_bin=${EVAL:-$build/apps/eval}
mkdir -p "$out"

per_sample() {  # RUN -> RUN/per_sample_test.jsonl (made once)
    local r=$1
    [ -f "$r/test.json" ] || return 1
    [ -f "$r/per_sample_test.jsonl" ] || "$eval_bin" --run "$r" --part test --threads 0 \
        --per-sample "$r/per_sample_test.jsonl" > "$r/eval_test.json" || return 1
}
buckets=${BUCKETS:-1-20,21-50,51-100,101-200,201-}  # history lengths; max_len 50: beyond it both see the last 50

compare() {  # RUN_A RUN_B OUT.json [compare_runs flags...] -> paired B - A; 1 if a run has not finished
    local a=$1 b=$2 json=$3
    shift 3
    per_sample "$a" && per_sample "$b" || { echo "analyze_ratio: $a or $b has not finished; left out" >&2; return 1; }
    "$build/apps/compare_runs" "$a/per_sample_test.jsonl" "$b/per_sample_test.jsonl" \
        --metrics NDCG@10,HR@10,NDCG@50,HR@50 --pretty --out "$json" "$@" > /dev/null
}

first_seed() {  # SUFFIX -> the lowest seed with both SASRec and TTT4Rec finished for that split, or nothing
    local s
    for s in 1 2 3; do
        [ -f "$runs/$prefix-sasrec$1-s$s/test.json" ] && [ -f "$runs/$prefix-ttt4rec$1-s$s/test.json" ] && { echo "$s"; return; }
    done
}
gap_args=()
for pair in 1:2:7=-r127 3:2:5= 6:2:2=-r622 loo=-loo; do  # label=tag suffix
    label=${pair%%=*}
    suffix=${pair#*=}
    # Seed 1 where it has run; otherwise the lowest seed that has (each point is a paired comparison
    # within its own split, so the points need not share a seed).
    s=$(first_seed "$suffix")
    [ -n "$s" ] || { echo "analyze_ratio: no finished SASRec/TTT4Rec pair for $label; left out" >&2; continue; }
    a=$runs/$prefix-sasrec$suffix-s$s
    b=$runs/$prefix-ttt4rec$suffix-s$s
    compare "$a" "$b" "$out/$prefix-compare-${label//:/}.json" --by-length --buckets "$buckets" &&
        gap_args+=(--label "$label (seed $s)" --file-a "$a/per_sample_test.jsonl" --file-b "$b/per_sample_test.jsonl")
done
# 3:2:5 has seeds 2 and 3 too: one paired comparison per seed (SASRec seed s against TTT4Rec seed s).
for s in 2 3; do
    compare "$runs/$prefix-sasrec-s$s" "$runs/$prefix-ttt4rec-s$s" "$out/$prefix-compare-325-s$s.json" \
        --by-length --buckets "$buckets"
done
# The best baseline on validation, when it is not SASRec (BASELINE=gru4rec-p10: RUNS_DIR/PREFIX-gru4rec-p10-s1),
# against SASRec and TTT4Rec of every finished seed on the 3:2:5 test samples (seed 1 keeps its
# earlier file name).
if [ -n "${BASELINE:-}" ]; then
    for m in sasrec ttt4rec; do
        for s in 1 2 3; do
            [ -f "$runs/$prefix-$m-s$s/test.json" ] || continue
            name=$out/$prefix-compare-325-$BASELINE-vs-$m.json
            [ "$s" = 1 ] || name=$out/$prefix-compare-325-$BASELINE-vs-$m-s$s.json
            compare "$runs/$prefix-$BASELINE-s1" "$runs/$prefix-$m-s$s" "$name"
        done
    done
fi
[ ${#gap_args[@]} -gt 0 ] && "$build/apps/plot" gap "${gap_args[@]}" --metric NDCG@10 --out "$out/$prefix-gap.svg" \
    --title "$prefix: TTT4Rec - SASRec test NDCG@10 by training share (95% bootstrap CI over users)"
