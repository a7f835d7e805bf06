# shellcheck shell=sh
# The pair phase of the e2e Dom0 (sourced by dom0/init, busybox ash; uses
# its helpers). Two 1-vCPU guests, A and B, run at once from the same image
# with the restart soak switched on (guest/rsoak.c: requests with known
# answers, the longest pause measured), both started through
# launcher/vgpu-xl-create, so each daemon runs under its keeper (vgpu-keep).
#
#  1. Both guests in their loop: the memory of both daemons (supervisor and
#     worker) and their device models, while both run.
#  2. kill -9 of A's daemon (its supervisor, from the pid file): A's keeper
#     starts the same command again, and the new daemon takes over the
#     guest (backend state 4, its pid in the pid file and the backend); the
#     old worker dies with its supervisor. Checks gA.restart.*.
#  3. xl destroy B: B's daemon, and with it B's keeper, exit 0 and B's
#     XenStore nodes go, while A keeps being answered and A's backend nodes
#     stay exactly as they were. Checks pair.B.*, pair.A.*.
#  4. Dom0 asks A's soak to stop (XenStore data/e2e-rsoak-stop), A prints
#     its results (relayed as E2E:pA:), A is destroyed: its (restarted)
#     daemon and keeper exit 0 and XenStore is clean.
# Every wait is bounded; a failure is reported and the phase still tears
# both guests down. Launcher mode only (the keeper is the launcher's).

PAIR_IMG_A=/e2e/guest.img
PAIR_IMG_B=/run/e2e/guest-pB.img

pair_get() { eval "echo \"\${P_$1_$2}\""; }
pair_set() { eval "P_$1_$2=\$3"; }
pair_log() { echo "/var/log/xen/console/guest-e2e-p$1.log"; }
backend_of() { echo "/local/domain/0/backend/vgpu/$1/0"; }
ms_since() { awk -v s="$1" -v n="$(now)" 'BEGIN { printf "%.0f", (n - s) * 1000 }'; }
# console_count A|B TEXT: lines of the guest's console holding TEXT.
console_count() { grep -c "$2" <"$(pair_log "$1")" 2>/dev/null; }
pair_progressed() { [ "$(console_count A E2E-RSOAK-PROGRESS)" -ge "$1" ]; }
is_alive() { [ -n "$1" ] && [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# Both images boot the soak: A's is the image itself (the sequential runs are
# over), B's a copy (two device models cannot share one writable image).
pair_images() {
	case $E2E_PAIR_SOAK in *[!0-9]* | '' | ????*) return 1 ;; esac
	_i_at=$(cat /e2e/guest.img.rsoak-at 2>/dev/null) || return 1
	printf '%03d' "$E2E_PAIR_SOAK" | dd of="$PAIR_IMG_A" bs=1 seek="$_i_at" conv=notrunc 2>/dev/null &&
		cp "$PAIR_IMG_A" "$PAIR_IMG_B"
}

# pair_start A|B: vgpu-xl-create for the guest, in the background, under
# e2e-reaper (which adopts the keeper the launcher leaves running).
pair_start() {
	_s_name=e2e-p$1
	_s_img=$PAIR_IMG_A
	[ "$1" = B ] && _s_img=$PAIR_IMG_B
	write_cfg "/run/e2e/$_s_name.cfg" "$_s_name" 1 "$_s_img"
	relay_console "p$1" "$_s_name"
	PAIR_RELAYS="$PAIR_RELAYS $RELAY_PID"
	RELAY_PID=
	mkdir -p "/run/e2e/reap-p$1"
	# shellcheck disable=SC2086
	e2e-reaper "/run/e2e/reap-p$1" timeout $((E2E_LAUNCH_TIMEOUT + 30)) \
		/opt/vgpu/launcher/vgpu-xl-create \
		--sbdf "$E2E_SBDF" --timeout "$E2E_LAUNCH_TIMEOUT" \
		--daemon /usr/bin/vgpu-ioreqd --log-dir /var/log/vgpu \
		"/run/e2e/$_s_name.cfg" -- $E2E_DAEMON_ARGS \
		>"/run/e2e/launcher-p$1.out" 2>"/run/e2e/launcher-p$1.log" </dev/null &
}

# pair_launched A|B: the launcher's outcome; records domid, daemon, keeper.
pair_launched() {
	_l_reap=/run/e2e/reap-p$1
	wait_for $((E2E_LAUNCH_TIMEOUT + 60)) "vgpu-xl-create (p$1)" test -f "$_l_reap/main.exit"
	_l_rc=$(cat "$_l_reap/main.exit" 2>/dev/null || echo timeout)
	_l_dom=$(tail -n 1 "/run/e2e/launcher-p$1.out")
	frame "launcher-p$1" cat "/run/e2e/launcher-p$1.log"
	case $_l_dom in '' | *[!0-9]*) _l_rc="$_l_rc (no domid printed)" ;; esac
	if [ "$_l_rc" != 0 ]; then
		result FAIL "pair.$1.launcher" "vgpu-xl-create failed (rc=$_l_rc, stdout '$_l_dom')"
		return 1
	fi
	_l_pid=$(cat "/run/vgpu-ioreqd/$_l_dom.pid" 2>/dev/null)
	_l_keeper=$(ppid_of "$_l_pid")
	pair_set "$1" domid "$_l_dom"
	pair_set "$1" daemon "$_l_pid"
	pair_set "$1" keeper "$_l_keeper"
	echo "E2E-INFO pair=$1 domid=$_l_dom daemon=$_l_pid keeper=$_l_keeper"
	if [ -n "$_l_keeper" ] && tr '\000' ' ' <"/proc/$_l_keeper/cmdline" 2>/dev/null | grep -q vgpu-keep; then
		result PASS "pair.$1.launcher" "domid $_l_dom, vgpu-ioreqd pid $_l_pid run by vgpu-keep pid $_l_keeper; state 4, unpaused"
	else
		result FAIL "pair.$1.launcher" "daemon pid '$_l_pid' (domid $_l_dom) is not run by vgpu-keep (parent '$_l_keeper')"
		return 1
	fi
}

# pair_wait_console A|B PATTERN SECONDS: the guest printed PATTERN; fails
# early if the guest crashed or vanished.
pair_wait_console() {
	_c_start=$(now)
	while ! grep -q "$2" "$(pair_log "$1")" 2>/dev/null; do
		if domain_crashed "e2e-p$1" || domain_gone "e2e-p$1"; then
			echo "E2E-INFO pair=$1 the guest crashed or vanished"
			crash_report "$(pair_get "$1" domid)"
			return 1
		fi
		if awk -v s="$_c_start" -v n="$(now)" -v l="$3" 'BEGIN { exit !(n - s > l) }'; then
			echo "E2E-TIMEOUT waiting ${3}s for '$2' from guest p$1"
			return 1
		fi
		sleep 1
	done
}

# A new daemon (not $2) serves guest $1: pid file, backend pid, state 4.
pair_restarted() {
	_r_dom=$(pair_get "$1" domid)
	_r_new=$(cat "/run/vgpu-ioreqd/$_r_dom.pid" 2>/dev/null)
	[ -n "$_r_new" ] && [ "$_r_new" != "$2" ] && [ -d "/proc/$_r_new" ] &&
		[ "$(xenstore-read "$(backend_of "$_r_dom")/pid" 2>/dev/null)" = "$_r_new" ] &&
		[ "$(xenstore-read "$(backend_of "$_r_dom")/state" 2>/dev/null)" = 4 ]
}

# pair_destroy A|B: xl destroy; the keeper (whose status is its daemon's
# last) exits 0; the guest's XenStore nodes are gone. Checks pair.X.*.
pair_destroy() {
	_d_dom=$(pair_get "$1" domid)
	_d_keeper=$(pair_get "$1" keeper)
	xl destroy "$_d_dom" || result FAIL "pair.$1.destroy" "xl destroy $_d_dom failed"
	wait_for 60 "domain $_d_dom to go away" domain_gone "e2e-p$1" ||
		result FAIL "pair.$1.destroy" "domain $_d_dom still there 60s after xl destroy"
	_d_exit=/run/e2e/reap-p$1/exit.$_d_keeper
	if wait_for "$E2E_EXIT_TIMEOUT" "p$1 keeper to exit" test -f "$_d_exit"; then
		if [ "$(cat "$_d_exit")" = 0 ]; then
			result PASS "pair.$1.daemon-exit" "vgpu-ioreqd pid $(pair_get "$1" daemon) and its vgpu-keep pid $_d_keeper exited 0 after the guest was destroyed"
		else
			result FAIL "pair.$1.daemon-exit" "vgpu-keep pid $_d_keeper exited $(cat "$_d_exit") (its daemon's last status)"
		fi
	else
		result FAIL "pair.$1.daemon-exit" "vgpu-keep pid $_d_keeper still running ${E2E_EXIT_TIMEOUT}s after xl destroy"
		kill "$_d_keeper" 2>/dev/null
	fi
	if xenstore-exists "/local/domain/0/backend/vgpu/$_d_dom" 2>/dev/null; then
		result FAIL "pair.$1.xenstore-cleanup" "backend/vgpu/$_d_dom still exists: $(xenstore-list "/local/domain/0/backend/vgpu/$_d_dom" 2>/dev/null | tr '\n' ' ')"
	elif xenstore-exists "/local/domain/$_d_dom/device/vgpu" 2>/dev/null; then
		result FAIL "pair.$1.xenstore-cleanup" "/local/domain/$_d_dom/device/vgpu still exists"
	else
		result PASS "pair.$1.xenstore-cleanup" "backend and frontend nodes gone"
	fi
}

# Step 2: A's daemon killed, a new one takes over.
pair_kill_restart() {
	_k_dom=$(pair_get A domid)
	_k_old=$(pair_get A daemon)
	_k_worker=$(child_of "$_k_old")
	_k_t0=$(now)
	kill -KILL "$_k_old"
	stage pair.A.killed
	if wait_for "$E2E_PAIR_RESTART_TIMEOUT" "a new daemon for guest A" pair_restarted A "$_k_old"; then
		_k_ms=$(ms_since "$_k_t0")
		_k_new=$(cat "/run/vgpu-ioreqd/$_k_dom.pid")
		stage pair.A.restarted
		pair_set A daemon "$_k_new"
		echo "E2E-PERF pair restart_ms=$_k_ms old_pid=$_k_old new_pid=$_k_new"
		if [ "$(ppid_of "$_k_new")" = "$(pair_get A keeper)" ]; then
			result PASS "gA.restart.daemon" "kill -9 of vgpu-ioreqd pid $_k_old: the keeper started pid $_k_new, backend state 4 again after ${_k_ms} ms"
		else
			result FAIL "gA.restart.daemon" "new daemon pid $_k_new is not the keeper's child (parent $(ppid_of "$_k_new"))"
		fi
		worker_sandbox A.restart "$_k_new"
	else
		result FAIL "gA.restart.daemon" "no new daemon at state 4 within ${E2E_PAIR_RESTART_TIMEOUT}s of kill -9 (pid file '$(cat "/run/vgpu-ioreqd/$_k_dom.pid" 2>/dev/null)', backend pid '$(xenstore-read "$(backend_of "$_k_dom")/pid" 2>/dev/null)', state '$(xenstore-read "$(backend_of "$_k_dom")/state" 2>/dev/null)')"
	fi
	if grep -q "vgpu-ioreqd $_k_old was killed by signal 9; restarting it for domain $_k_dom" \
		"/var/log/vgpu/vgpu-ioreqd-$_k_dom.log" 2>/dev/null; then
		result PASS "gA.restart.keeper-log" "the daemon's log has the keeper's restart line"
	else
		result FAIL "gA.restart.keeper-log" "no restart line for pid $_k_old in /var/log/vgpu/vgpu-ioreqd-$_k_dom.log"
	fi
	# The old worker was reparented to e2e-reaper, which records its exit.
	if [ -z "$_k_worker" ]; then
		result FAIL "gA.restart.old-worker" "no worker found under pid $_k_old before the kill"
	elif wait_for 10 "the old worker to exit" test -f "/run/e2e/reap-pA/exit.$_k_worker"; then
		result PASS "gA.restart.old-worker" "worker pid $_k_worker exited (status $(cat "/run/e2e/reap-pA/exit.$_k_worker")) with its supervisor"
	else
		result FAIL "gA.restart.old-worker" "worker pid $_k_worker still runs 10s after its supervisor was killed"
		kill -KILL "$_k_worker" 2>/dev/null
	fi
}

# Step 3: B destroyed; A unaffected.
pair_destroy_b() {
	_b_a=$(pair_get A domid)
	_b_backend=$(backend_of "$_b_a")
	xenstore-ls -f "$_b_backend" >/run/e2e/pA-xenstore-before 2>&1
	_b_progress=$(console_count A E2E-RSOAK-PROGRESS)
	pair_destroy B
	stage pair.B.destroyed
	xenstore-ls -f "$_b_backend" >/run/e2e/pA-xenstore-after 2>&1
	frame xenstore-pA cat /run/e2e/pA-xenstore-after
	if [ -s /run/e2e/pA-xenstore-before ] && cmp -s /run/e2e/pA-xenstore-before /run/e2e/pA-xenstore-after; then
		result PASS "pair.A.xenstore-intact" "A's backend ($(wc -l </run/e2e/pA-xenstore-after) nodes) unchanged by B's destroy"
	else
		frame xenstore-pA-before cat /run/e2e/pA-xenstore-before
		result FAIL "pair.A.xenstore-intact" "A's backend changed while B was destroyed (frames xenstore-pA-before / xenstore-pA)"
	fi
	_b_pid=$(pair_get A daemon)
	if is_alive "$_b_pid"; then
		result PASS "pair.A.daemon-unaffected" "A's vgpu-ioreqd pid $_b_pid still runs"
	else
		result FAIL "pair.A.daemon-unaffected" "A's vgpu-ioreqd pid $_b_pid is gone"
	fi
	# A fresh progress line is printed only by a loop that is answered.
	if wait_for 30 "A's soak to progress" pair_progressed $((_b_progress + 2)); then
		result PASS "pair.A.answering" "A's soak printed progress after B was destroyed"
	else
		result FAIL "pair.A.answering" "A's soak printed no progress for 30s after B was destroyed"
	fi
}

# pair_crashed G WHEN: whether guest G is gone or was crashed by the
# emulator (docs/e2e.md). If so, it says so plainly (with the registers)
# rather than as a failed restart, and a crash prints the boot retry's
# marker: the pair has no attempts of its own, so run.sh boots again.
pair_crashed() {
	domain_crashed "e2e-p$1" || domain_gone "e2e-p$1" || return 1
	crash_report "$(pair_get "$1" domid)"
	result FAIL "pair.$1.guest" "guest $1 crashed $2 (xenctx frame above)"
	if domain_crashed "e2e-p$1"; then echo "E2E-GUEST-GAVE-UP run=p$1 attempts=1"; fi
	return 0
}

pair_phase() {
	if [ "$E2E_MODE" != launcher ] || [ "$E2E_PAIR_SOAK" = 0 ]; then
		echo "E2E-INFO pair phase skipped (mode $E2E_MODE, E2E_PAIR_SOAK=$E2E_PAIR_SOAK)"
		return 0
	fi
	echo "E2E-INFO pair phase soak=$E2E_PAIR_SOAK"
	pair_images || {
		result FAIL pair.images "cannot switch the restart soak on in the guest image"
		return 0
	}
	stage pair.create
	pair_start A
	pair_start B
	_p_ok=1
	pair_launched A || _p_ok=0
	pair_launched B || _p_ok=0
	stage pair.launched
	if [ "$_p_ok" = 1 ]; then
		pair_wait_console A E2E-RSOAK-LOOP "$E2E_GUEST_TIMEOUT" || _p_ok=0
		[ "$_p_ok" = 0 ] || pair_wait_console B E2E-RSOAK-LOOP "$E2E_GUEST_TIMEOUT" || _p_ok=0
		if [ "$_p_ok" = 1 ]; then
			stage pair.looping
			result PASS pair.looping "both guests run their soak"
		else
			result FAIL pair.looping "the guests did not both reach their soak loop"
			for _p_g in A B; do pair_crashed "$_p_g" "before reaching its soak loop"; done
		fi
	fi
	if [ "$_p_ok" = 1 ]; then
		perf_rss pA "$(pair_get A domid)" "$(pair_get A daemon)"
		perf_rss pB "$(pair_get B domid)" "$(pair_get B daemon)"
		for _p_g in A B; do
			pair_crashed "$_p_g" "during its soak, before the kill" && _p_ok=0
		done
	fi
	if [ "$_p_ok" = 1 ]; then
		pair_kill_restart
		pair_destroy_b
		xenstore-write "/local/domain/$(pair_get A domid)/data/e2e-rsoak-stop" 1
		if pair_wait_console A E2E-GUEST-DONE 60; then
			stage pair.A.guest-done
			result PASS pair.A.guest-ran "A's soak printed its results"
		else
			result FAIL pair.A.guest-ran "A's soak printed no results after the stop request (timed out after 60s, or the guest crashed: see E2E-INFO pair=A)"
		fi
		pair_destroy A
		stage pair.A.destroyed
	else
		# Whatever was made goes; the checks above say why.
		for _p_g in A B; do
			xl destroy "e2e-p$_p_g" >/dev/null 2>&1
		done
	fi
	sleep 1
	# shellcheck disable=SC2086 # a list of pids
	kill $PAIR_RELAYS 2>/dev/null
	PAIR_RELAYS=
}
