# shellcheck shell=sh disable=SC2034,SC2154
# (sourced by dom0/init: the variables it sets and reads are shared with it)
# Crash-study plan for the e2e Dom0 (docs/e2e.md, "Guest crash study").
# run-study.sh copies this file to /e2e/study.sh and its plan to
# /e2e/study.conf; dom0/init sources it after the toolstack is up, so it runs
# with every helper of dom0/init defined and never returns (finish powers off).
#
# E2E_STUDY_PLAN is a list of "SEQ:ARM:VCPUS:LOAD" entries, run in order, one
# guest each, never retried. Per guest it prints
#   E2E-STUDY-BEGIN seq=S arm=A vcpus=V load=L uptime=T
#   E2E-STUDY-END seq=S arm=A vcpus=V load=L outcome=ok|crash domid=D uptime=T
# (E2E-STUDY-SERVED seq=S <the daemon's request counts>; trace: N wrong answers)
# and on a crash the xenctx frame (from run_guest_once), the daemon's log
# (its request trace ring included) and the guest's console are relayed. A
# guest that hangs or fails to start ends the boot through dom0/init's fatal,
# after an E2E-STUDY-END line with outcome=fatal.
#
# ARM: none (no device model for 00:05.0); held (none, but the guest is
# kept paused 3.5 s after xl create -p, as long as the launcher keeps it
# while its daemon starts); shipped, no-pin, no-xs-bar,
# claim-keep, min-responder (vgpu-ioreqd built with -DVGPU_STUDY_ARMS=ON,
# the arm chosen through VGPU_STUDY_ARM); cmin-US (min-ioreq-server holding
# each request US microseconds). LOAD 1: a Dom0 shell polls xl and XenStore
# in a tight loop while the guest runs.
E2E_STUDY_PLAN=
# shellcheck disable=SC1091
. /e2e/study.conf

STUDY_SEQ=
STUDY_ARM=
STUDY_LOAD_PID=

# dom0/init's fatal ends the boot; say which guest it was first.
study_fatal_hook() {
	[ -n "$STUDY_SEQ" ] &&
		echo "E2E-STUDY-END seq=$STUDY_SEQ arm=$STUDY_ARM vcpus=$vcpus load=$STUDY_LOAD outcome=fatal reason=$1 uptime=$(now)"
	STUDY_SEQ=
	[ -n "$STUDY_LOAD_PID" ] && kill "$STUDY_LOAD_PID" 2>/dev/null
}
fatal() { # dom0/init's, plus the hook
	study_fatal_hook "$1"
	result FAIL "$1" "$2"
	finish
}

# min-ioreq-server has no XenStore backend: it is ready once it says so.
study_orig_backend_ready() { [ "$(xenstore-read "/local/domain/0/backend/vgpu/$1/0/state" 2>/dev/null)" = 4 ]; }
backend_ready() {
	case $STUDY_ARM in
	cmin-*) grep -q '^READY' "/run/e2e/daemon-$gfile.out" 2>/dev/null ;;
	*) study_orig_backend_ready "$1" ;;
	esac
}

# Instead of dom0/init's memory measurement (not needed here): once the guest
# has printed its results, the daemon logs its request trace (SIGUSR1), so
# that every guest's last answers are checked, not only a crashed one's.
perf_rss() {
	[ -n "$3" ] && [ "$E2E_MODE" = launcher ] && kill -USR1 "$3" 2>/dev/null && sleep 2
	return 0
}

study_load_start() {
	(while :; do
		xl list >/dev/null 2>&1
		xenstore-ls /local/domain >/dev/null 2>&1
	done) &
	STUDY_LOAD_PID=$!
}

# study_arm_setup ARM: the dom0/init mode and daemon settings for ARM.
study_arm_setup() {
	unset VGPU_STUDY_ARM
	E2E_DIRECT_DAEMON=
	E2E_DAEMON_ARGS=$STUDY_DAEMON_ARGS
	E2E_DIRECT_READY_WAIT=60
	E2E_UNPAUSE_DELAY=0
	case $1 in
	none) E2E_MODE=none ;;
	held)
		E2E_MODE=none
		E2E_UNPAUSE_DELAY=3.5
		;;
	shipped) E2E_MODE=launcher ;;
	no-pin | no-xs-bar | claim-keep | min-responder)
		E2E_MODE=launcher
		VGPU_STUDY_ARM=$1
		export VGPU_STUDY_ARM
		;;
	cmin-*)
		E2E_MODE=direct
		E2E_DIRECT_DAEMON=/usr/bin/min-ioreq-server
		E2E_DAEMON_ARGS="--delay-us ${1#cmin-}"
		;;
	*) fatal study.plan "unknown arm $1" ;;
	esac
}

STUDY_DAEMON_ARGS=$E2E_DAEMON_ARGS
for entry in $E2E_STUDY_PLAN; do
	IFS=: read -r STUDY_SEQ STUDY_ARM vcpus STUDY_LOAD <<EOF2
$entry
EOF2
	study_arm_setup "$STUDY_ARM"
	echo "E2E-STUDY-BEGIN seq=$STUDY_SEQ arm=$STUDY_ARM vcpus=$vcpus load=$STUDY_LOAD uptime=$(now)"
	STUDY_LOAD_PID=
	[ "$STUDY_LOAD" = 1 ] && study_load_start
	outcome=ok
	run_guest_once "$STUDY_SEQ" "$vcpus" 1 || outcome=crash
	[ -n "$STUDY_LOAD_PID" ] && kill "$STUDY_LOAD_PID" 2>/dev/null
	STUDY_LOAD_PID=
	if [ "$outcome" = crash ]; then
		for f in /var/log/vgpu/*-"$domid".log /run/e2e/daemon-"${name#e2e-}".out; do
			[ -f "$f" ] && frame "study-log-$STUDY_SEQ" cat "$f"
		done
	fi
	served=$(grep -h 'served .* requests' /var/log/vgpu/*-"$domid".log 2>/dev/null | tail -n 1 | sed 's/.*served/served/')
	[ -z "$served" ] && served=$(grep -h '^EXIT' "/run/e2e/daemon-${name#e2e-}.out" 2>/dev/null)
	# The trace ring's verdict on the answers it dumped (0 when all were well-formed).
	wrong=$(grep -h 'of the answers above look wrong' /var/log/vgpu/*-"$domid".log 2>/dev/null |
		sed 's/.*request trace: \([0-9]*\) of.*/\1/' | sort -n | tail -n 1)
	echo "E2E-STUDY-SERVED seq=$STUDY_SEQ $served${wrong:+; trace: $wrong wrong answer(s)}"
	echo "E2E-STUDY-END seq=$STUDY_SEQ arm=$STUDY_ARM vcpus=$vcpus load=$STUDY_LOAD outcome=$outcome domid=$domid uptime=$(now)"
	# Each guest leaves logs behind; the next one starts clean.
	rm -f /var/log/vgpu/* /run/e2e/*.out /run/e2e/*.log /var/log/xen/console/guest-*.log
	STUDY_SEQ=
done
finish
