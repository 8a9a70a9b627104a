#!/bin/sh
# bench/scale.sh: the scale run (bench/scale.py: SCALE_CONNS keep-alive
# connections, 10,000 by default, to itkd and to Apache + mpm-itk) and the
# TLS full-handshake run (bench/tls.py: BearSSL's crypto floor, a cheap
# BearSSL client against openssl s_time, itkd and Apache). Writes
# bench/results/scale.md (both parts; bench/run includes it in RESULTS.md),
# bench/results/scale-conns.md and bench/results/tls.md (each part alone),
# and their raw figures in bench/results/scale.json and tls.json.
#
# As root. SCALE_ONLY=conns or SCALE_ONLY=tls runs one part; QUICK=1 (as
# `make bench QUICK=1` sets it) makes both short.
# The scripts restore what they change; this trap is the backstop if one
# of them dies: the sysctls they saved are put back, and whatever is left
# in their cgroups is killed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
results=$here/results
saved=/var/tmp/itkd-scale-sysctl.saved

say() { echo "scale.sh: $*"; }

cleanup() {
	rm -f "$results/scale.md.new"
	if [ -f "$saved" ]; then
		while read -r name value; do
			say "restoring $name to $value"
			echo "$value" > "/proc/sys/$(echo "$name" | tr . /)" ||
			    say "cannot restore $name"
		done < "$saved"
		rm -f "$saved"
	fi
	# The servers and clients left in the scripts' cgroups, killed first:
	# a user still running a process cannot be removed.
	for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		for g in "$root"/itkd-scale-*; do
			[ -d "$g" ] || continue
			for sub in "$g"/*/; do
				[ -d "$sub" ] || continue
				say "killing what is left in $sub"
				echo 1 > "$sub/cgroup.kill" || true
				n=0
				while grep -q "populated 1" "$sub/cgroup.events" && [ $n -lt 1200 ]; do
					sleep 0.1
					n=$((n + 1))
				done
				rmdir "$sub" || say "cannot remove $sub"
			done
			rmdir "$g" || say "cannot remove $g"
		done
	done
	for state in /var/tmp/itkd-scale-state.*; do
		[ -f "$state" ] || continue
		while read -r kind value; do
			case $kind in
			user)
				say "removing user $value"
				userdel "$value" || true
				groupdel "$value" 2>/dev/null || true ;;
			dir)
				case $value in
				/var/tmp/itkd-scale-*) rm -rf "$value" ;;
				esac ;;
			esac
		done < "$state"
		rm -f "$state"
	done
}

child=
on_signal() {
	if [ -n "$child" ]; then
		kill "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	exit 130
}

[ "$(id -u)" = 0 ] || { say "needs root (servers switch uids); nothing run"; exit 1; }
cleanup                 # what a run that was killed outright left
trap cleanup EXIT
trap on_signal INT TERM
mkdir -p "$results"
only=${SCALE_ONLY:-}
# make bench QUICK=1: 1,000 connections and 2 s TLS runs, unless set.
case ${QUICK:-0} in
0|"") ;;
*) SCALE_CONNS=${SCALE_CONNS:-1000}; TLS_SECONDS=${TLS_SECONDS:-2}
   export SCALE_CONNS TLS_SECONDS ;;
esac
out=$results/scale.md.new
: > "$out"
# part NAME SCRIPT MD: run one part; its markdown, or why there is none.
part() {
	rm -f "$results/$3"
	status=0
	python3 "$here/$2" &
	child=$!
	wait "$child" || status=$?
	child=
	if [ -f "$results/$3" ]; then
		cat "$results/$3" >> "$out"
		echo >> "$out"
	else
		say "bench/$2 failed (status $status)"
		printf '## %s\n\nbench/%s failed (status %d) and wrote nothing.\n\n' \
		    "$1" "$2" "$status" >> "$out"
	fi
}
[ "$only" = tls ] || part "Scale" scale.py scale-conns.md
[ "$only" = conns ] || part "TLS full handshakes" tls.py tls.md
mv "$out" "$results/scale.md"
say "wrote $results/scale.md"
