#!/usr/bin/env bash
# apps/bench_vs_torch.sh — tttrec against its PyTorch peer (../shared/bench/ttt4rec_torch.py) on the
# performance issue's configurations, side by side in one sitting, and the ratios.
#
# For every round and every configuration it runs our apps/bench section, then the peer, one after
# the other (ours, peer, ours, peer, ...), with the same thread count, each wrapped in
# `/usr/bin/time -v` for its peak RSS. The peer gets its best settings, tcmalloc (see peer_preload) and OMP_WAIT_POLICY=PASSIVE
# (see the peer's README). At the end it prints, per configuration, the median over the rounds of
# each side's sequences/s (training) or users/s (inference) and peak RSS, and the ratios ours/peer.
#
# Not a test and not part of CI: it needs python3-torch (Debian) and takes minutes. Machines are
# shared and noisy, which is why both sides alternate and only ratios from one sitting are meaningful.
#
# usage: apps/bench_vs_torch.sh [--build DIR] [--rounds N] [--threads N] [--configs a,b,...]
#                               [--peer FILE] [--out DIR] [--quick]
#   --build    meson build directory holding apps/bench (default: build)
#   --rounds   alternations per configuration (default: 3)
#   --threads  threads on both sides (default: 2)
#   --configs  subset of: train-ttt train-ttt-primal train-sasrec infer-ttt infer-sasrec (default: all)
#   --peer     the peer script (default: ../shared/bench/ttt4rec_torch.py next to the source tree)
#   --out      directory for the raw JSON lines and time -v logs (default: a new temporary directory)
#   --quick    few steps on both sides: a smoke run of this script, not a measurement
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=build
rounds=3
threads=2
configs="train-ttt,train-ttt-primal,train-sasrec,infer-ttt,infer-sasrec"
peer="$root/../shared/bench/ttt4rec_torch.py"
out=""
quick=0
python=/usr/bin/python3  # Debian's python with python3-torch (a pyenv `python3` on PATH may lack it)

die() { echo "bench_vs_torch: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --threads) threads=${2:?}; shift 2 ;;
    --configs) configs=${2:?}; shift 2 ;;
    --peer) peer=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive integer, got '$rounds'"
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads needs a positive integer, got '$threads'"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bench="$build/apps/bench"
[ -x "$bench" ] || die "$bench not found: build first (meson compile -C $build)"
[ -f "$peer" ] || die "peer script $peer not found (--peer FILE)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install -y time)"
"$python" -c 'import torch' 2>/dev/null || {
  echo "bench_vs_torch: python3-torch is not installed ($python -c 'import torch' failed): nothing to compare with" >&2
  exit 1
}
# Debian's torch takes its BLAS through the libblas.so.3 alternative. On a fresh machine that is often
# netlib's reference BLAS, which runs the peer 7-10x slower than OpenBLAS: the ratios would then
# measure the BLAS package, not the engines. Refuse unless an optimised BLAS is selected.
blas=$(readlink -f "$(/sbin/ldconfig -p 2>/dev/null | awk '/libblas\.so\.3 .*x86-64/ {print $NF; exit}')" 2>/dev/null || true)
case "$blas" in
  */blas/libblas.so.3*|"")
    echo "bench_vs_torch: the peer's BLAS is '${blas:-unknown}' (netlib reference BLAS or not found)." >&2
    echo "  Install OpenBLAS so the peer runs at its best: apt-get install -y libopenblas0-pthread" >&2
    exit 1 ;;
esac
echo "peer BLAS: $blas"
# The peer's allocator. PyTorch takes its CPU tensors from glibc malloc, which maps every block above
# 32 MB (the logits are 87 MB) with a fresh mmap and unmaps it on free: each step then page-faults
# its activations in again, about 2 million faults a run. Where a fault is expensive (measured on
# this workplace's Zen 5 machines: ~10 us each, 40% of the peer's time in the kernel, train-ttt 114
# seq/s) that measures the machine's page faults, not the engine. tcmalloc keeps freed memory, as
# PyTorch's CPU performance guides recommend (same run: 267 seq/s, 10x fewer faults; jemalloc
# returned its pages and did not help). Our engine keeps its buffers in its own pool (tensor.cpp).
peer_preload=""
for lib in /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/x86_64-linux-gnu/libtcmalloc.so.4; do
  if [ -f "$lib" ]; then peer_preload=$lib; break; fi
done
if [ -n "$peer_preload" ]; then
  echo "peer allocator: tcmalloc ($peer_preload)"
else
  echo "bench_vs_torch: warning: no tcmalloc for the peer (apt-get install -y libtcmalloc-minimal4); it runs on" >&2
  echo "  glibc malloc and page-faults its large tensors in at every step, which is slow on some machines" >&2
fi
if [ -z "$out" ]; then out=$(mktemp -d /tmp/bench_vs_torch.XXXXXX); fi
mkdir -p "$out"

# The peer's command line for each of our sections.
peer_args() {
  case "$1" in
    train-ttt) echo "--model ttt --variant dual --mode train --epochs 0" ;;
    train-ttt-primal) echo "--model ttt --variant primal --mode train --epochs 0" ;;
    train-sasrec) echo "--model sasrec --mode train --epochs 0" ;;
    infer-ttt) echo "--model ttt --mode infer" ;;
    infer-sasrec) echo "--model sasrec --mode infer" ;;
    *) die "unknown configuration '$1'" ;;
  esac
}
IFS=, read -r -a config_list <<< "$configs"
for c in "${config_list[@]}"; do peer_args "$c" > /dev/null; done

ours_quick=(); peer_quick=()
if [ "$quick" = 1 ]; then ours_quick=(--quick); peer_quick=(--warmup 1 --steps 3); fi

# Peak RSS in KB from a `time -v` log.
max_rss_kb() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }

echo "bench_vs_torch: $rounds round(s), $threads thread(s), configs $configs; raw results in $out"
# The machine's FMA peak with the same thread count, in this sitting: the summary states each side's
# model GFLOP/s as a fraction of it, and the ratio a perfect engine (100% of peak) would reach.
# That bound depends on the machine kind: AVX-512 on a core with two 512-bit FMA units doubles our
# peak over the peer's AVX2 kernels, on a core that executes AVX-512 on 256-bit units it does not.
# Measured at the start and again at the end, and the higher kept: anything else running lowers a
# peak, never raises it. (Seen: a probe that shared a core with another process for its few seconds
# gave 128 GFLOP/s on 2 threads, below its own 1-thread figure of 193, and every model then ran at
# "1.2-1.9x the peak". The summary also refuses such a peak: see peak_suspect below.)
"$bench" --only peak --threads "$threads" > "$out/peak.json"
for r in $(seq 1 "$rounds"); do
  for c in "${config_list[@]}"; do
    log="$out/ours-$c-$r.time"
    /usr/bin/time -v -o "$log" "$bench" --only "$c" --threads "$threads" "${ours_quick[@]}" > "$out/ours-$c-$r.json"
    echo "{\"side\": \"ours\", \"config\": \"$c\", \"round\": $r, \"max_rss_kb\": $(max_rss_kb "$log"), \"result\": $(tail -n 1 "$out/ours-$c-$r.json")}" >> "$out/results.jsonl"
    echo "  round $r $c: ours done"

    log="$out/peer-$c-$r.time"
    rm -f "$out/peer-$c-$r.json"
    # shellcheck disable=SC2046  # peer_args is a list of words
    OMP_WAIT_POLICY=PASSIVE LD_PRELOAD="$peer_preload" /usr/bin/time -v -o "$log" "$python" "$peer" $(peer_args "$c") --threads "$threads" \
      "${peer_quick[@]}" --json "$out/peer-$c-$r.json" --tag "$c" > "$out/peer-$c-$r.log" 2>&1
    echo "{\"side\": \"peer\", \"config\": \"$c\", \"round\": $r, \"max_rss_kb\": $(max_rss_kb "$log"), \"result\": $(tail -n 1 "$out/peer-$c-$r.json")}" >> "$out/results.jsonl"
    echo "  round $r $c: peer done"
  done
done

"$bench" --only peak --threads "$threads" > "$out/peak-end.json"

# Summary: medians over the rounds, ratios ours / peer (speed) and ours / peer (RSS).
"$python" - "$out/results.jsonl" "$out/peak.json" "$out/peak-end.json" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
peaks = [json.loads(open(f).read().strip().splitlines()[-1]) for f in sys.argv[2:4]]
peak = max(peaks, key=lambda p: p["peak_gflops_all_threads"])
peak_all = peak["peak_gflops_all_threads"]
# A peak over T threads below (T - 0.5) times the one-thread peak of the same probe means the probe
# did not have the cores to itself: every fraction of it would be too high.
peak_suspect = peak["threads"] > 1 and peak_all < (peak["threads"] - 0.5) * peak["peak_gflops_1thread"]
def med(side, config, key):
    xs = [r["result"][key] if key in r["result"] else r[key] for r in rows if r["side"] == side and r["config"] == config]
    return statistics.median(xs) if xs else float("nan")
print()
print(f"{'config':<18}{'ours':>12}{'peer':>12}{'speed x':>9}   {'RSS ours MB':>12}{'RSS peer MB':>12}{'RSS ratio':>10}")
summary = {}
for config in dict.fromkeys(r["config"] for r in rows):
    key = "train_seq_per_s" if config.startswith("train") else "infer_users_per_s"
    o, p = med("ours", config, key), med("peer", config, key)
    ro, rp = med("ours", config, "max_rss_kb") / 1024, med("peer", config, "max_rss_kb") / 1024
    print(f"{config:<18}{o:>12.1f}{p:>12.1f}{o / p:>9.2f}   {ro:>12.0f}{rp:>12.0f}{ro / rp:>10.2f}")
    summary[config] = {"metric": key, "ours": o, "peer": p, "speedup": o / p,
                       "rss_mb_ours": ro, "rss_mb_peer": rp, "rss_ratio": ro / rp}
    # Model FLOPs per sequence from our bench (the peer runs the same model shapes).
    ours_res = next(r["result"] for r in rows if r["side"] == "ours" and r["config"] == config)
    if config.startswith("train"):
        gflop_per_seq = ours_res["model_gflop_per_step"] / ours_res["train_batch"]
    else:
        gflop_per_seq = ours_res["model_gflop_per_batch"] / ours_res["infer_batch"]
    summary[config].update(gflop_per_seq=gflop_per_seq, gflops_ours=o * gflop_per_seq, gflops_peer=p * gflop_per_seq,
                           frac_of_peak_ours=o * gflop_per_seq / peak_all, frac_of_peak_peer=p * gflop_per_seq / peak_all,
                           speedup_at_full_peak=peak_all / (p * gflop_per_seq))
print("(speed: sequences/s for train-*, users/s for infer-*; medians over rounds; RSS from /usr/bin/time -v)")
print()
print(f"FMA peak with {peak['threads']} thread(s), this sitting: {peak_all:.1f} GFLOP/s "
      f"({peak['arch']}, {peak.get('flops_per_cycle') or float('nan'):.1f} flop/cycle/core measured)")
print(f"{'config':<18}{'GFLOP/seq':>10}{'ours GF/s':>11}{'of peak':>9}{'peer GF/s':>11}{'of peak':>9}{'x at 100% peak':>16}")
for config, v in summary.items():
    print(f"{config:<18}{v['gflop_per_seq']:>10.4f}{v['gflops_ours']:>11.1f}{v['frac_of_peak_ours']:>9.2f}"
          f"{v['gflops_peer']:>11.1f}{v['frac_of_peak_peer']:>9.2f}{v['speedup_at_full_peak']:>16.2f}")
print("(x at 100% peak: the ratio an engine running the whole model at the FMA peak would reach against this peer)")
too_high = [c for c, v in summary.items() if v["frac_of_peak_ours"] > 1 or v["frac_of_peak_peer"] > 1]
if peak_suspect or too_high:
    print(f"WARNING: the peak is not trustworthy (start {peaks[0]['peak_gflops_all_threads']:.1f}, end "
          f"{peaks[1]['peak_gflops_all_threads']:.1f} GFLOP/s on {peak['threads']} threads against "
          f"{peak['peak_gflops_1thread']:.1f} on one; fractions above 1: {', '.join(too_high) or 'none'}): "
          "something else ran during the sitting. The fractions of peak are void; rerun on a quiet machine.")
print(json.dumps({"bench_vs_torch": summary, "peak_gflops_all_threads": peak_all, "peak_suspect": bool(peak_suspect or too_high)}))
EOF
