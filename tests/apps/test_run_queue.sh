#!/bin/bash
# tests/apps/test_run_queue.sh — apps/run_queue.sh against a fake `train` (no model is trained):
#   * two workers run every run of a queue exactly once, comments and blank lines skipped;
#   * an interrupted run (resume.safetensors present) is resumed with --resume, not restarted;
#   * a second call skips what has finished;
#   * a queue file rewritten in place while a worker runs (an editor, git) does not make the worker
#     run a fragment of a line: the worker read the file whole before its first run.
# usage: test_run_queue.sh PATH/TO/run_queue.sh
set -u
rq=$(realpath "${1:?usage: test_run_queue.sh PATH/TO/run_queue.sh}")
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The fake train: writes OUT/test.json (what run_queue.sh looks for) and logs what it was asked.
cat > "$d/train" <<'FAKE'
#!/bin/bash
out=""; resume=""
args="$*"
while [ $# -gt 0 ]; do
  case "$1" in --out) out=$2; shift ;; --resume) resume=$2; out=$2; shift ;; esac
  shift
done
tag=$(basename "$out")
echo "$tag ${resume:+resume} $args" >> "$LOG"
# The first run rewrites the queue file in place, with a longer comment at its top: a worker that
# keeps a byte offset into the file would now read from inside a line.
if [ "$tag" = a1 ] && [ -n "${EDIT_QUEUE:-}" ]; then
  { echo "# a much longer comment line, written while the queue is running, that shifts every line"; cat "$EDIT_QUEUE.orig"; } > "$EDIT_QUEUE"
fi
sleep 0.2
mkdir -p "$out" && echo '{}' > "$out/test.json"
FAKE
chmod +x "$d/train"

cd "$d" || exit 1
printf '# a queue\na1 --model x --seed 1   # trailing comment\n\na2 --model y --seed 2\na3 --model z --seed 3\na4 --model w --seed 4\n' > q.txt
cp q.txt q.txt.orig
mkdir -p runs/q/a3 && touch runs/q/a3/resume.safetensors  # a3 was interrupted earlier

LOG=$d/log EDIT_QUEUE=$d/q.txt TRAIN=$d/train bash "$rq" runs 2 q.txt > out.txt 2>&1 || fail "run_queue exited $?: $(cat out.txt)"
for t in a1 a2 a3 a4; do
  [ -f "runs/q/$t/test.json" ] || fail "$t did not run"
  [ "$(grep -c "^$t " log)" = 1 ] || fail "$t ran $(grep -c "^$t " log) times"
done
[ "$(wc -l < log)" = 4 ] || fail "expected 4 runs, the log has: $(cat log)"
grep -q '^a3 resume' log || fail "a3 was not resumed: $(grep '^a3' log)"
grep -q '^a2  --model y --seed 2 --quiet --out runs/q/a2$' log || fail "a2's flags: $(grep '^a2' log)"
ls runs/q | grep -qv -E '^a[1-4](\.cmd|\.err|\.json)?$' && fail "unexpected files in runs/q: $(ls runs/q)"

# Everything finished: a second call runs nothing.
: > log
LOG=$d/log TRAIN=$d/train bash "$rq" runs 2 q.txt > out.txt 2>&1 || fail "second call exited $?"
[ ! -s log ] || fail "a second call ran again: $(cat log)"
echo "run_queue: 4 runs once each, resume, skip, in-place edit: ok"
