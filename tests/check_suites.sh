#!/bin/sh
# tests/check_suites.sh UNIT_TESTS SUITE... — fails when the doctest binary has a TEST_SUITE that
# tests/*/meson.build does not register (it would never run under `meson test`), or when meson
# registers a suite the binary does not have (a renamed suite that silently runs nothing).
bin=$1; shift
have=$("$bin" --list-test-suites --no-version | sed -n '/^====/,/^====/p' | grep -v '^====' | sort -u)
want=$(printf '%s\n' "$@" | sort -u)
missing=$(printf '%s\n' "$have" | grep -vxF "$want")
extra=$(printf '%s\n' "$want" | grep -vxF "$have")
status=0
if [ -n "$missing" ]; then echo "TEST_SUITEs in the binary that meson does not run (add them to test_suites):"; echo "$missing"; status=1; fi
if [ -n "$extra" ]; then echo "suites registered with meson that the binary does not have:"; echo "$extra"; status=1; fi
[ $status = 0 ] && echo "$(printf '%s\n' "$want" | wc -l) suites, all registered"
exit $status
