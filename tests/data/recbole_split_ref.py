#!/usr/bin/env python3
"""tests/data/recbole_split_ref.py — an independent statement, in plain Python, of how RecBole
(1.2.0, the TTT4Rec pipeline) turns an interaction log into train/valid/test samples with a
by-ratio split. tests/data/test_splits.cpp runs it (when python3 is present) and compares the
C++ split with what it prints; the numbers hard-coded in that test came from here too.

Written from the behaviour of RecBole's functions, not copied from them:
  SequentialDataset.data_augmentation: after a stable sort by (user, timestamp), every
      interaction but a user's first becomes a sample whose history is everything before it;
  Dataset.sort(by=timestamp): the samples are stable-sorted by their target's timestamp;
  Dataset.split_by_ratio(ratios, group_by=user): ratios are divided by their sum; samples are
      grouped by user keeping their order; each user's list is cut by _calcu_split_ids.

Usage:
  recbole_split_ref.py counts N_MAX SPEC...   # "SPEC n train valid test" for n = 0..N_MAX
  recbole_split_ref.py log FILE SPEC          # "part user target_position target_item" per sample
SPEC is TRAIN:VALID:TEST, e.g. 3:2:5 or 0.3:0.2:0.5 (parsed as Python floats).
FILE is "user,item,timestamp" per line (a header line starting with "user" is skipped); its ids
are kept as strings.
"""
import sys


def calcu_split_ids_counts(tot, ratios):
    # Part sizes of one user's `tot` samples; `ratios` already sum to 1.
    cnt = [int(r * tot) for r in ratios]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def normalise(spec):
    ratios = [float(x) for x in spec.split(":")]
    tot = sum(ratios)
    return [r / tot for r in ratios]


def split_log(rows, ratios):
    # rows: (user, item, timestamp) in file order.
    order = sorted(range(len(rows)), key=lambda k: (rows[k][0], rows[k][2]))  # sorted() is stable
    samples = []  # (user, target position in the user's sequence, target item, target timestamp)
    pos = {}
    for k in order:
        u, item, ts = rows[k]
        p = pos.get(u, 0)
        if p >= 1:
            samples.append((u, p, item, ts))
        pos[u] = p + 1
    samples.sort(key=lambda s: s[3])  # stable: equal timestamps keep the previous order
    by_user = {}
    users = []
    for s in samples:
        if s[0] not in by_user:
            by_user[s[0]] = []
            users.append(s[0])
        by_user[s[0]].append(s)
    out = []
    for u in users:
        group = by_user[u]
        cnt = calcu_split_ids_counts(len(group), ratios)
        bounds = [0, cnt[0], cnt[0] + cnt[1], len(group)]
        for part, name in enumerate(("train", "valid", "test")):
            for s in group[bounds[part]:bounds[part + 1]]:
                out.append((name, s[0], s[1], s[2]))
    return out


def main(argv):
    if len(argv) >= 3 and argv[1] == "counts":
        n_max = int(argv[2])
        for spec in argv[3:]:
            ratios = normalise(spec)
            for n in range(n_max + 1):
                c = calcu_split_ids_counts(n, ratios)
                print(spec, n, c[0], c[1], c[2])
        return 0
    if len(argv) == 4 and argv[1] == "log":
        rows = []
        with open(argv[2]) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("user"):  # a header line is skipped
                    u, i, t = line.split(",")
                    rows.append((u, i, float(t)))
        for name, u, p, item in split_log(rows, normalise(argv[3])):
            print(name, u, p, item)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
