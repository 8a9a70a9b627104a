#!/bin/sh
# tests/run.sh: run every test program and count the "ok"/"FAIL"/"skip"
# lines they print. Ends with "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
out=tests/tmp/results.txt
mkdir -p tests/tmp
: > "$out"
# Sanitizer reports (make check SANITIZE=1), writable by every test uid.
rm -rf tests/tmp/san && mkdir -m 1777 tests/tmp/san
run() {
	echo "== $*"
	# A test program that dies without printing counts as one failure.
	if ! "$@" > tests/tmp/one.txt 2> tests/tmp/one.err; then
		grep -q '^FAIL' tests/tmp/one.txt || echo "FAIL $*: exited non-zero" >> tests/tmp/one.txt
		sed 's/^/   stderr: /' tests/tmp/one.err | tail -20
	fi
	grep -E '^(FAIL|skip)' tests/tmp/one.txt
	cat tests/tmp/one.txt >> "$out"
}
for t in tests/unit_*; do
	case "$t" in *.c|*.h) continue;; esac
	[ -x "$t" ] && run "$t"
done
for t in tests/integration/test_*.py; do
	[ -f "$t" ] && run python3 "$t"
done
for f in tests/tmp/san/report.*; do
	[ -f "$f" ] && echo "FAIL sanitizer $f: $(grep -m1 -E 'ERROR:|runtime error' "$f")" >> "$out"
done
grep '^FAIL sanitizer' "$out"
pass=$(grep -c '^ok ' "$out")
fail=$(grep -c '^FAIL' "$out")
skip=$(grep -c '^skip' "$out")
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
