#!/bin/bash
# apps/run_table.sh — the runs behind the README results table, for one dataset, one after another.
#
#   apps/run_table.sh NAME DATA_FILE [RUNS_DIR] [THREADS]
#   e.g. apps/run_table.sh beauty ../shared/data/amazon-beauty/Beauty.txt runs/table 1
#
# Every run: leave-one-out split, full ranking with the user's history masked (S3Rec protocol; LRURec
# masks it too), max length 50, at most 40 epochs, early stopping on validation NDCG@10 with patience
# 5; the best-validation checkpoint is evaluated on the test split. An interrupted script can simply
# be started again: finished runs are skipped and an interrupted one continues with --resume.
# Then: /usr/bin/python3 apps/results_table.py RUNS_DIR
set -u
name=$1
data=$2
runs=${3:-runs/table}
threads=${4:-1}
train=${TRAIN:-./build/apps/train}
common="--data $data --mask-history --threads $threads --epochs 40 --patience 5 --quiet"
mkdir -p "$runs"

run() {  # TAG FLAGS...
    local tag=$1
    shift
    local out=$runs/$name-$tag
    [ -f "$out/test.json" ] && return
    if [ -f "$out/resume.safetensors" ]; then
        "$train" --resume "$out" > "$out.json" 2> "$out.err"
    else
        echo "$train $common $* --out $out" > "$out.cmd"
        /usr/bin/time -v "$train" $common "$@" --out "$out" > "$out.json" 2> "$out.err"
    fi
}

run sasrec-ce-s1      --model sasrec --loss ce --seed 1
run ttt4rec-mlp-s1    --model ttt4rec --positions every --seed 1
run sasrec-bce-s1     --model sasrec --loss bce --seed 1
run gru4rec-s1        --model gru4rec --positions every --seed 1
run ttt4rec-linear-s1 --model ttt4rec --inner linear --positions every --seed 1
run ttt4rec-fe-s1     --model ttt4rec-fe --positions every --seed 1
run sasrec-ce-s2      --model sasrec --loss ce --seed 2
run ttt4rec-mlp-s2    --model ttt4rec --positions every --seed 2
run sasrec-ce-s3      --model sasrec --loss ce --seed 3
run ttt4rec-mlp-s3    --model ttt4rec --positions every --seed 3
