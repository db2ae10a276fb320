#!/usr/bin/env bash
# tests/fuzz/run.sh — runs the fuzz targets for SECONDS each (default 120), one after the other at
# low priority, then merges what they found into the committed corpus, minimized (-merge=1 keeps
# only inputs that add coverage edges). Prints each target's final statistics.
#
#   CXX=clang++ CC=clang meson setup build-fuzz -Dfuzz=true && meson compile -C build-fuzz
#   tests/fuzz/run.sh build-fuzz 300            # every target, 5 minutes each
#   tests/fuzz/run.sh build-fuzz 60 csv cache   # some targets
#
# A crash stops that target and leaves crash-<sha1> in the current directory; reproduce it with
# build-fuzz/tests/fuzz/fuzz_<target> crash-<sha1>, minimize with -minimize_crash=1, fix, and
# keep the input in tests/fuzz/corpus/<target>/ (the replay test runs it in every build).
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [SECONDS] [TARGET...]}
secs=${2:-120}
shift $(( $# >= 2 ? 2 : 1 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pairs sequences ml-100k ml-dat csv inter auto cache safetensors)
here=$(cd "$(dirname "$0")" && pwd)

for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  corpus="$here/corpus/$t"
  found=$(mktemp -d)
  echo "=== $t: ${secs}s"
  # Readers see text files: 1 KB inputs are enough to reach every branch and keep runs fast.
  max_len=1024; case $t in cache|safetensors) max_len=4096 ;; esac
  # Every line gets the seconds since start, so the log shows when coverage last grew: a target
  # has reached its plateau when the last new edge came early in a long run.
  log="$build/fuzz-$t.log"
  # auto detects the format and then runs that reader: its coverage is the union of the readers',
  # so it starts from (and merges in) every reader's corpus instead of rediscovering each format.
  seeds=("$corpus")
  [ "$t" = auto ] && for r in pairs sequences ml-100k ml-dat csv inter; do seeds+=("$here/corpus/$r"); done
  # Dictionaries of the tokens the parsers compare against (header keys, column names).
  dict=(); case $t in safetensors) dict=(-dict="$here/safetensors.dict") ;; csv|inter|auto) dict=(-dict="$here/header.dict") ;; esac
  nice -n 10 "$bin" -max_total_time="$secs" -max_len="$max_len" -timeout=10 -print_final_stats=1 "${dict[@]}" \
    "$found" "${seeds[@]}" 2>&1 | perl -ne 'BEGIN { $| = 1; $t0 = time } print time - $t0, "s ", $_' > "$log" || true
  grep -E '^[0-9]+s #[0-9]+.*(INITED|DONE)|stat::|ERROR|SUMMARY|Test unit written' "$log" | tail -n 12 || true
  # The last line whose edge count (cov:) went up: its time and execution number.
  perl -ne 'if (/^(\d+)s #(\d+)\s+(?:NEW|REDUCE|INITED)\s+cov: (\d+)/) { if ($3 > $c) { ($c, $s, $n) = ($3, $1, $2) } }
            END { print "last new edge: cov $c at ${s}s, execution #$n\n" if defined $c }' "$log"
  merged=$(mktemp -d)
  # -use_counters=0: keep one input per new edge, not per hit count (the corpus stays small).
  "$bin" -merge=1 -use_counters=0 "$merged" "${seeds[@]}" "$found" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files' || true
  # Keep the hand-named regression inputs (regression-*) whatever the merge says.
  cp "$corpus"/regression-* "$merged"/ 2>/dev/null || true
  rm -rf "$corpus" && mv "$merged" "$corpus" && chmod 755 "$corpus"
  rm -rf "$found"
  echo "corpus: $(ls "$corpus" | wc -l) files, $(du -sk "$corpus" | cut -f1) KB"
done
