#!/bin/sh
# bench/ab.sh: two itkd binaries, A against B, by the CPU their processes
# spend per one-request connection (perf stat over the master and every
# child it has at the start, the spawners included; a connection's
# processes inherit the counters), alternating, a fresh server each run.
#
# usage: bench/ab.sh A B CONF PORT [ROUNDS]
#   CONF listens on 127.0.0.1:PORT, with a vhost a.test serving /1k.html
#   (bench/run lays one out; BENCH_KEEP=1 keeps it). Needs perf and wrk.
# Output, per run: "A-1: N conns, US us cpu/conn, F faults/conn, C cs/conn";
# compare the medians. Rates here are of this machine at this moment:
# alternate, and quote medians of several rounds.
set -eu
[ $# -ge 4 ] || { echo "usage: bench/ab.sh A B CONF PORT [ROUNDS]" >&2; exit 2; }
a=$1 b=$2 conf=$3 port=$4 rounds=${5:-5}
out=$(mktemp -d /tmp/itkd-ab.XXXXXX)
trap 'rm -rf "$out"' EXIT
url=http://127.0.0.1:$port/1k.html

run() {	# NAME BINARY
	"$2" -f -c "$conf" 2>>"$out/stderr" & pid=$!
	i=0
	until curl -s -o /dev/null -H 'Host: a.test' "$url"; do
		i=$((i + 1)); [ $i -lt 50 ] || { echo "$1: no answer on $port" >&2; exit 1; }
		sleep 0.1
	done
	sleep 0.4	# that connection's processes gone: only the spawners stay
	pids=$pid
	for c in $(cat /proc/$pid/task/$pid/children); do pids=$pids,$c; done
	perf stat -e task-clock,page-faults,context-switches -p "$pids" -o "$out/stat" & p=$!
	sleep 0.3
	n=$(wrk -t2 -c32 -d4s -H 'Connection: close' -H 'Host: a.test' "$url" |
	    awk '/requests in/ { print $1 }')
	kill -INT $p; wait $p 2>/dev/null || true
	kill -TERM $pid; wait $pid 2>/dev/null || true
	awk -v n="$n" -v name="$1" '
	    /task-clock/ { t = $1 } /page-faults/ { f = $1 } /context-switches/ { c = $1 }
	    END { gsub(",", "", t); gsub(",", "", f); gsub(",", "", c)
		printf "%s: %d conns, %.0f us cpu/conn, %.1f faults/conn, %.1f cs/conn\n",
		    name, n, t * 1000 / n, f / n, c / n }' "$out/stat"
	sleep 0.3
}

r=1
while [ $r -le "$rounds" ]; do
	run "A-$r" "$a"
	run "B-$r" "$b"
	r=$((r + 1))
done
