#!/usr/bin/env bash
# tests/fuzz/own_coverage.sh — edges of tttrec's own code that a corpus reaches, per target: the
# figure that says whether fuzzing still finds anything new in our code (the fuzzer's own cov:
# also counts edges in the standard library and nlohmann::json, e.g. std::sort's paths for new
# input sizes, which keep growing long after our code has plateaued).
#
#   CXX=clang++ CC=clang meson setup build-fuzz-own -Dfuzz=true \
#       -Dcpp_args=-fsanitize-coverage-ignorelist=$PWD/tests/fuzz/own-code.ignorelist
#   meson compile -C build-fuzz-own $(for t in pairs sequences ml-100k ml-dat csv inter auto cache safetensors; do echo tests/fuzz/fuzz_$t; done)
#   tests/fuzz/own_coverage.sh build-fuzz-own                       # the committed corpus
#   tests/fuzz/own_coverage.sh build-fuzz-own /tmp/old/tests/fuzz/corpus   # and an older one beside it
set -euo pipefail
build=${1:?usage: own_coverage.sh OWN_BUILD_DIR [OTHER_CORPUS_ROOT]}
other=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
edges() {  # BIN DIR: the edge count after replaying DIR once (-runs=0 executes nothing new)
  local empty; empty=$(mktemp -d)
  "$1" -runs=0 "$empty" "$2" 2>&1 | sed -nE 's/.*INITED cov: ([0-9]+).*/\1/p'
  rm -rf "$empty"
}
for t in pairs sequences ml-100k ml-dat csv inter auto cache safetensors; do
  bin="$build/tests/fuzz/fuzz_$t"
  if [ -n "$other" ]; then
    echo "$t: $(edges "$bin" "$other/$t") -> $(edges "$bin" "$here/corpus/$t") own-code edges"
  else
    echo "$t: $(edges "$bin" "$here/corpus/$t") own-code edges"
  fi
done
