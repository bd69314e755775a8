#!/bin/sh
# Shell entry point to the rig for C tests:
#   tests/rig/dovecot.sh start DIR [good|wronghost]
#                                    starts Dovecot on 127.0.0.1 and writes DIR/env
#   tests/rig/dovecot.sh stop DIR    stops it (bounded: ~15 s at most)
# DIR/env holds shell assignments: IMAP_PORT IMAPS_PORT CA_FILE OTHER_CA_FILE IMAP_USER
# IMAP_PASSWORD DOVECOT_LOG CERT. With "wronghost" the server certificate names only
# wrong.example (still signed by CA_FILE), for host-name verification tests; start one rig per
# DIR for each kind. A small python supervisor keeps Dovecot as its child, so stop is a plain
# kill of one pid.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?start|stop}
dir=${2:?DIR}
cert=${3:-good}
case "$cert" in
good | wronghost) ;;
*)
	echo "dovecot.sh: certificate kind must be good or wronghost, not $cert" >&2
	exit 2
	;;
esac
case "$cmd" in
start)
	mkdir -p "$dir"
	rm -f "$dir/env"
	/usr/bin/python3 - "$here" "$dir" "$cert" >"$dir/supervisor.log" 2>&1 <<'PY' &
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
import rig
stop = False
def on_term(*_):
    global stop
    stop = True
# Set before Dovecot starts: a stop that arrives during start-up must still stop it.
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, on_term)
d = rig.Dovecot(os.path.join(sys.argv[2], "dovecot"), cert=sys.argv[3]).start()
with open(os.path.join(sys.argv[2], "env.tmp"), "w") as f:
    f.write(f"IMAP_PORT={d.imap_port}\nIMAPS_PORT={d.imaps_port}\nCA_FILE={d.ca_file}\n"
            f"OTHER_CA_FILE={d.other_ca_file}\nIMAP_USER={d.user}\n"
            f"IMAP_PASSWORD={d.password}\nDOVECOT_LOG={d.log_path}\nCERT={sys.argv[3]}\n")
os.rename(os.path.join(sys.argv[2], "env.tmp"), os.path.join(sys.argv[2], "env"))
while not stop:
    time.sleep(0.1)
d.stop()
PY
	pid=$!
	echo $pid >"$dir/supervisor.pid"
	i=0
	while [ ! -f "$dir/env" ]; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 $pid 2>/dev/null; then
			kill $pid 2>/dev/null || true
			echo "dovecot.sh: Dovecot did not start" >&2
			cat "$dir/supervisor.log" >&2
			exit 1
		fi
		sleep 0.05
	done
	;;
stop)
	if [ -f "$dir/supervisor.pid" ]; then
		pid=$(cat "$dir/supervisor.pid")
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
			i=$((i + 1))
			sleep 0.05
		done
		rm -f "$dir/supervisor.pid"
	fi
	;;
*)
	echo "usage: $0 start DIR [good|wronghost] | stop DIR" >&2
	exit 2
	;;
esac
