#!/bin/sh
# Shell entry point to the rig for C tests:
#   tests/rig/dovecot.sh start DIR   starts Dovecot on 127.0.0.1 and writes DIR/env
#   tests/rig/dovecot.sh stop DIR    stops it
# DIR/env holds shell assignments: IMAP_PORT IMAPS_PORT CA_FILE OTHER_CA_FILE IMAP_USER
# IMAP_PASSWORD DOVECOT_LOG. A small python supervisor keeps Dovecot as its child, so stop
# is a plain kill of one pid.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?start|stop}
dir=${2:?DIR}
case "$cmd" in
start)
	mkdir -p "$dir"
	rm -f "$dir/env"
	/usr/bin/python3 - "$here" "$dir" >"$dir/supervisor.log" 2>&1 <<'PY' &
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
import rig
d = rig.Dovecot(os.path.join(sys.argv[2], "dovecot")).start()
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
with open(os.path.join(sys.argv[2], "env.tmp"), "w") as f:
    f.write(f"IMAP_PORT={d.imap_port}\nIMAPS_PORT={d.imaps_port}\nCA_FILE={d.ca_file}\n"
            f"OTHER_CA_FILE={d.other_ca_file}\nIMAP_USER={d.user}\n"
            f"IMAP_PASSWORD={d.password}\nDOVECOT_LOG={d.log_path}\n")
os.rename(os.path.join(sys.argv[2], "env.tmp"), os.path.join(sys.argv[2], "env"))
while not stop:
    time.sleep(0.1)
d.stop()
PY
	echo $! >"$dir/supervisor.pid"
	i=0
	while [ ! -f "$dir/env" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
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
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
