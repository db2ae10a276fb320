#!/usr/bin/python3
"""apps/results_table.py — the README results table from a folder of finished run directories.

Run directories are named  <dataset>-<tag>-s<seed>  (as apps/run_table.sh makes them); runs of the
same dataset and tag with different seeds are averaged (mean ± sample std). Each run contributes its
test.json (metrics of the best-validation checkpoint), metrics.jsonl (epochs, seconds per epoch) and
config.json. Nothing here reads a test metric to choose anything: the checkpoint was chosen on the
validation split by apps/train.

    /usr/bin/python3 apps/results_table.py RUNS_DIR [--published]

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
    if len(sys.argv) < 2:
        sys.exit("usage: results_table.py RUNS_DIR")
    root = sys.argv[1]
    groups = {}
    for name in sorted(os.listdir(root)):
        m = re.fullmatch(r"([a-z0-9]+)-(.+)-s(\d+)", name)
        path = os.path.join(root, name)
        if not m or not os.path.isfile(os.path.join(path, "test.json")):
            continue
        groups.setdefault((m.group(1), m.group(2)), []).append(load_run(path))

    for dataset in sorted({d for d, _ in groups}):
        print(f"\n**{dataset}** (test split, full ranking)\n")
        print("| model | seeds | HR@10 | NDCG@10 | HR@20 | NDCG@20 | valid NDCG@10 | best epoch | train time (fastest epoch) | published (HR@10 / NDCG@10 / HR@20 / NDCG@20) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        tags = sorted({t for d, t in groups if d == dataset}, key=lambda t: (ORDER.index(t) if t in ORDER else 99, t))
        # Popularity is computed by apps/train beside every run; show it once, from the first run.
        first = groups[(dataset, tags[0])][0][0]
        if "popularity_test" in first:
            pub = PUBLISHED.get((dataset, "popularity"))
            cells = [fmt([first["popularity_test"][k]]) for k in METRICS]
            pub_s = f"{pub[0]}: " + " / ".join("–" if v is None else f"{v:.4f}" for v in pub[1]) if pub else ""
            print(f"| popularity | – | {' | '.join(cells)} | – | – | – | {pub_s} |")
        for tag in tags:
            runs = groups[(dataset, tag)]
            cells = [fmt([r[0]["test"]["full"][k] for r in runs]) for k in METRICS]
            best = "/".join(str(r[0]["best_epoch"]) for r in runs)
            minutes = [sum(e["seconds"] for e in r[1]) / 60 for r in runs]
            # Wall time on a shared machine; the fastest epoch is the best estimate of an unloaded one.
            fastest = min(e["seconds"] for r in runs for e in r[1])
            valid = fmt([r[0]["valid"]["full"]["NDCG@10"] for r in runs])
            epochs = "/".join(str(len(r[1])) for r in runs)
            pub = PUBLISHED.get((dataset, tag))
            pub_s = f"{pub[0]}: " + " / ".join("–" if v is None else f"{v:.4f}" for v in pub[1]) if pub else ""
            print(f"| {tag} | {len(runs)} | {' | '.join(cells)} | {valid} | {best} | {statistics.mean(minutes):.0f} min ({epochs} ep; {fastest:.0f} s) | {pub_s} |")


if __name__ == "__main__":
    main()
