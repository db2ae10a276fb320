#!/usr/bin/python3
"""apps/results_table.py — the README results table from a folder of finished run directories.

Run directories are named  <dataset>-<tag>-s<seed>  (as apps/run_table.sh makes them); runs of the
same dataset and tag with different seeds are averaged (mean ± sample std). Each run contributes its
test.json (metrics of the best-validation checkpoint), metrics.jsonl (epochs, seconds per epoch) and
config.json. Nothing here reads a test metric to choose anything: the checkpoint was chosen on the
validation split by apps/train.

    /usr/bin/python3 apps/results_table.py RUNS_DIR [--metrics HR@10,NDCG@10,...] [--kind full|candidates]
                                           [--valid-metric NDCG@10] [--published loo|none]

--kind candidates reads the candidate-protocol metrics (test.json "candidates"); --published none
leaves the published column empty (the leave-one-out numbers below are not comparable to other
protocols).

Standard library only (json, statistics), so it runs with Debian's python3 and nothing else.
"""
import json
import os
import re
import statistics
import sys

METRICS = ["HR@10", "NDCG@10", "HR@20", "NDCG@20"]

# Published numbers on the same files and protocol, as read by the project's authors ([P] = read from
# the authors' own artifact):
#  Beauty: S3Rec repo full-ranking table (all_rank.PNG) [P]; SASRec-CE: blondered/transformer_benchmark
#  "SASRec+SS" (sampled softmax, their runs) [P] and BSARec's CE log for context.
#  Video: LRURec paper Table 3 (all models trained with CE over all items) [P].
PUBLISHED = {
    ("beauty", "sasrec-bce"): ("S3Rec repo, SASRec (BCE)", [0.0605, 0.0318, 0.0902, 0.0394]),
    ("beauty", "gru4rec"): ("S3Rec repo, GRU4Rec", [0.0283, 0.0137, 0.0479, 0.0187]),
    ("beauty", "sasrec-ce"): ("eSASRec repo, SASRec+SS", [0.0921, 0.0531, None, None]),
    ("beauty", "popularity"): ("S3Rec repo, PopRec", [0.0152, 0.0068, 0.0217, 0.0084]),
    ("video", "sasrec-ce"): ("LRURec Table 3, SASRec (CE)", [0.10910, 0.05829, 0.15989, 0.07111]),
    ("video", "gru4rec"): ("LRURec Table 3, GRU4Rec (CE)", [0.09512, 0.05081, 0.13959, 0.06200]),
    ("video", "narm"): ("LRURec Table 3, NARM (CE)", [0.09777, 0.05329, 0.14488, 0.06512]),
    ("video", "bert4rec"): ("LRURec Table 3, BERT4Rec", [0.11252, 0.05600, 0.16640, 0.06958]),
    ("beauty", "bert4rec"): ("S3Rec repo, BERT4Rec", [0.0347, 0.0170, 0.0599, 0.0233]),
}

ORDER = ["popularity", "gru4rec", "narm", "sasrec-bce", "sasrec-ce", "bert4rec", "mamba4rec", "ttt4rec-fe", "ttt4rec-linear", "ttt4rec-mlp"]


def load_run(path):
    with open(os.path.join(path, "test.json")) as f:
        test = json.load(f)
    epochs = []
    with open(os.path.join(path, "metrics.jsonl")) as f:
        for line in f:
            if line.strip():
                epochs.append(json.loads(line))
    return test, epochs


def fmt(values, digits=4):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main():
    import argparse
    ap = argparse.ArgumentParser(description="the README results table from finished run directories")
    ap.add_argument("runs", nargs="+", help="directories of run directories (several: their runs are pooled, "
                                            "e.g. a queue and the queue of its extra seeds)")
    ap.add_argument("--metrics", default=",".join(METRICS))
    ap.add_argument("--kind", choices=["full", "candidates"], default="full")
    ap.add_argument("--valid-metric", default="NDCG@10")
    ap.add_argument("--published", choices=["loo", "none"], default="loo")
    ap.add_argument("--epochs-at", default="",
                    help="also a table of the validation metric after these epochs, e.g. 1,3,5,10,50 "
                         "(a run that stopped earlier shows its last epoch's value, marked *)")
    args = ap.parse_args()
    metrics = args.metrics.split(",")
    published = PUBLISHED if args.published == "loo" else {}
    groups = {}
    for root in args.runs:
        for name in sorted(os.listdir(root)):
            m = re.fullmatch(r"([a-z0-9]+)-(.+)-s(\d+)", name)
            path = os.path.join(root, name)
            if not m or not os.path.isfile(os.path.join(path, "test.json")):
                continue
            groups.setdefault((m.group(1), m.group(2)), []).append(load_run(path))

    for dataset in sorted({d for d, _ in groups}):
        kind = "full ranking" if args.kind == "full" else "candidate protocol"
        print(f"\n**{dataset}** (test split, {kind})\n")
        pub_head = " | published (HR@10 / NDCG@10 / HR@20 / NDCG@20)" if published else ""
        print(f"| model | seeds | {' | '.join(metrics)} | valid {args.valid_metric} | best epoch | train time (fastest epoch){pub_head} |")
        print("|---|---|" + "---|" * len(metrics) + "---|---|---|" + ("---|" if published else ""))
        tags = sorted({t for d, t in groups if d == dataset}, key=lambda t: (ORDER.index(t) if t in ORDER else 99, t))
        # Popularity is computed by apps/train beside every run; show it once, from the first run.
        first = groups[(dataset, tags[0])][0][0]
        if "popularity_test" in first and args.kind == "full":
            pub = published.get((dataset, "popularity"))
            cells = [fmt([first["popularity_test"].get(k)]) for k in metrics]
            pub_s = f"{pub[0]}: " + " / ".join("–" if v is None else f"{v:.4f}" for v in pub[1]) if pub else ""
            print(f"| popularity | – | {' | '.join(cells)} | – | – | –{' | ' + pub_s if published else ''} |")
        for tag in tags:
            runs = groups[(dataset, tag)]
            cells = [fmt([r[0]["test"][args.kind].get(k) for r in runs]) for k in metrics]
            best = "/".join(str(r[0]["best_epoch"]) for r in runs)
            minutes = [sum(e["seconds"] for e in r[1]) / 60 for r in runs]
            # Wall time on a shared machine; the fastest epoch is the best estimate of an unloaded one.
            fastest = min(e["seconds"] for r in runs for e in r[1])
            valid = fmt([r[0]["valid"][args.kind].get(args.valid_metric) for r in runs])
            epochs = "/".join(str(len(r[1])) for r in runs)
            pub = published.get((dataset, tag))
            pub_s = f"{pub[0]}: " + " / ".join("–" if v is None else f"{v:.4f}" for v in pub[1]) if pub else ""
            print(f"| {tag} | {len(runs)} | {' | '.join(cells)} | {valid} | {best} | {statistics.mean(minutes):.0f} min ({epochs} ep; {fastest:.0f} s){' | ' + pub_s if published else ''} |")

        if args.epochs_at:
            marks = [int(e) for e in args.epochs_at.split(",")]
            print(f"\n*{dataset}: validation {args.valid_metric} after N epochs (mean over seeds; * = the run had "
                  f"stopped earlier, its last epoch shown)*\n")
            print("| model | " + " | ".join(f"{e} ep" for e in marks) + " | best epoch (valid) |")
            print("|---|" + "---|" * len(marks) + "---|")
            for tag in tags:
                runs = groups[(dataset, tag)]
                cells = []
                for e in marks:
                    vals, early = [], False
                    for _, epochs in runs:
                        line = epochs[min(e, len(epochs)) - 1]
                        early |= len(epochs) < e
                        vals.append(line["valid"].get(args.valid_metric))
                    cells.append(fmt(vals) + ("*" if early else ""))
                best = "/".join(str(r[0]["best_epoch"]) for r in runs)
                print(f"| {tag} | {' | '.join(cells)} | {best} |")


if __name__ == "__main__":
    main()
