#!/bin/sh
# bench/scale.sh: the scale run (bench/scale.py: SCALE_CONNS keep-alive
# connections, 10,000 by default, to itkd and to Apache + mpm-itk) and the
# TLS full-handshake run (bench/tls.py: BearSSL's crypto floor, a cheap
# BearSSL client against openssl s_time, itkd and Apache). Writes
# bench/results/scale.md (both parts; bench/run includes it in RESULTS.md),
# bench/results/scale-conns.md and bench/results/tls.md (each part alone),
# and their raw figures in bench/results/scale.json and tls.json.
#
# As root. SCALE_ONLY=conns or SCALE_ONLY=tls runs one part.
# The scripts restore what they change; this trap is the backstop if one
# of them dies: the sysctls they saved are put back, and whatever is left
# in their cgroups is killed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
results=$here/results
saved=/var/tmp/itkd-scale-sysctl.saved

say() { echo "scale.sh: $*"; }

cleanup() {
	if [ -f "$saved" ]; then
		while read -r name value; do
			say "restoring $name to $value"
			echo "$value" > "/proc/sys/$(echo "$name" | tr . /)" ||
			    say "cannot restore $name"
		done < "$saved"
		rm -f "$saved"
	fi
	for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		for g in "$root"/itkd-scale-*; do
			[ -d "$g" ] || continue
			for sub in "$g"/*/; do
				[ -f "$sub/cgroup.kill" ] && echo 1 > "$sub/cgroup.kill"
			done
			sleep 1
			for sub in "$g"/*/; do
				[ -d "$sub" ] && rmdir "$sub" 2>/dev/null || true
			done
			rmdir "$g" 2>/dev/null || say "cannot remove $g"
		done
	done
}

[ "$(id -u)" = 0 ] || { say "needs root (servers switch uids); nothing run"; exit 1; }
cleanup                 # what a run that was killed outright left
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$results"
only=${SCALE_ONLY:-}
if [ "$only" != tls ]; then
	rm -f "$results/scale-conns.md"
	python3 "$here/scale.py" || say "bench/scale.py failed (status $?)"
fi
if [ "$only" != conns ]; then
	rm -f "$results/tls.md"
	python3 "$here/tls.py" || say "bench/tls.py failed (status $?)"
fi
{
	if [ -f "$results/scale-conns.md" ]; then cat "$results/scale-conns.md"; echo; fi
	if [ -f "$results/tls.md" ]; then cat "$results/tls.md"; fi
} > "$results/scale.md"
say "wrote $results/scale.md"
