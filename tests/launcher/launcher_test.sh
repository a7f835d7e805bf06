#!/bin/bash
# Launcher tests: run vgpu-xl-create and vgpu-hotplug against stand-ins for
# xl, xenstore-read/-write and the daemon (tests/launcher/stubs), which log
# every call to one file and keep XenStore as a directory tree.
#
#   launcher_test.sh SCRIPT_DIR CASE      (SCRIPT_DIR holds the configured scripts)

set -uo pipefail

script_dir=$1
case_name=$2
stubs=$(cd "$(dirname "$0")/stubs" && pwd)

work=$(mktemp -d)
export STUB_LOG=$work/calls.log STUB_STORE=$work/store STUB_DOMAINS=$work/domains
export XL=$stubs/xl XENSTORE_READ=$stubs/xenstore-read XENSTORE_WRITE=$stubs/xenstore-write
export VGPU_IOREQD=$stubs/vgpu-ioreqd VGPU_RUN_DIR=$work/run VGPU_LOG_DIR=$work/log
export VGPU_POLL_INTERVAL=0.05 VGPU_STOP_TIMEOUT=2
# The keeper from the scripts under test (not an installed one), quick.
export VGPU_KEEP=$script_dir/vgpu-keep VGPU_KEEP_DELAY=0.05
readonly BACKEND=/local/domain/0/backend/vgpu/7/0
mkdir -p "$STUB_STORE"
: >"$STUB_LOG"

cleanup() {
  local pid
  # Keepers first, or they would restart the daemons killed below.
  for f in "$work"/run/keep-*.lock "$work"/run/*.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    kill -KILL "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
  else
    echo "FAIL: $what"
    failures=$((failures + 1))
  fi
}
logged() { grep -qF -- "$1" "$STUB_LOG"; }
not_logged() { ! logged "$1"; }
# Line number of the first call starting with $1 (0 if none).
line_of() { grep -nF -- "$1" "$STUB_LOG" | head -n 1 | cut -d: -f1 || echo 0; }
in_order() {
  local prev=0 n
  for call in "$@"; do
    n=$(line_of "$call")
    [[ -n $n && $n -gt $prev ]] || { echo "  '$call' missing or out of order" >&2; return 1; }
    prev=$n
  done
}
store_is() { [[ $(cat "$STUB_STORE$1" 2>/dev/null) == "$2" ]]; }
contains() { [[ $1 == *"$2"* ]]; }
# Running and not a zombie (the daemon's parent may be long gone).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}
daemon_pid() { cat "$work/run/7.pid" 2>/dev/null; }
keeper_pid() { cat "$work/run/keep-dom7.lock" 2>/dev/null; }
# Whether someone holds the keeper's lock (a live keeper).
keeper_alive() {
  local fd rc
  exec {fd}<"$work/run/keep-dom7.lock" || return 1
  ! flock -n "$fd"
  rc=$?
  exec {fd}<&-
  return "$rc"
}
parent_of() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  stat=${stat#* }
  echo "${stat%% *}"
}
starts() { grep -c "^daemon --domid 7 " "$STUB_LOG"; }
# eventually SECONDS COMMAND...: COMMAND succeeds within SECONDS.
eventually() {
  local limit=$(($1 * 20)) i
  shift
  for ((i = 0; i < limit; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}
# A daemon other than OLD serves: pid file, backend pid and state 4 agree.
new_daemon_serving() {
  local pid
  pid=$(daemon_pid)
  [[ -n $pid && $pid != "$1" ]] && alive "$pid" && store_is "$BACKEND/pid" "$pid" &&
    store_is "$BACKEND/state" 4
}
daemon_log() { cat "$work/log/vgpu-ioreqd-7.log" 2>/dev/null; }

config=$work/guest.cfg
# A setting that runs a command if it ever reaches bash arithmetic unchecked
# (a set array, so that `set -u` does not stop it first), worth 1.
# shellcheck disable=SC2016 # it must reach the scripts unexpanded
readonly EVIL='PPID[$(touch '"$work"'/pwned)]*0+1'
printf 'type = "hvm"\nname = "guest1"   # the name\nmemory = 512\n' >"$config"

run_xl_create() {
  out=$("$script_dir/vgpu-xl-create" "$@" 2>"$work/stderr")
  rc=$?
  err=$(cat "$work/stderr")
}

case_xl_create_happy_path() {
  run_xl_create --timeout 5 "$config" -- --log-level debug
  check "exit 0" [ "$rc" -eq 0 ]
  check "prints the domid" [ "$out" = 7 ]
  check "name free, create -p, daemon, unpause in order" \
    in_order "xl domid guest1" "xl create -p $config" \
    "daemon --domid 7 --sbdf 00:05.0 --pid-file $work/run/7.pid --log-file $work/log/vgpu-ioreqd-7.log --run-dir $work/run --log-level debug" \
    "xenstore-write $BACKEND/hotplug-status connected" "xl unpause 7"
  check "domid looked up by name after create" [ "$(grep -c "^xl domid guest1$" "$STUB_LOG")" -eq 2 ]
  check "hotplug-status connected" store_is "$BACKEND/hotplug-status" connected
  check "no destroy" not_logged "xl destroy"
  check "daemon keeps running" alive "$(daemon_pid)"
  check "daemon runs under the keeper" [ "$(parent_of "$(daemon_pid)")" = "$(keeper_pid)" ]
  check "keeper holds its lock" keeper_alive
}

# The daemon is killed (SIGKILL) while the guest runs: the keeper starts the
# same command again, once, and the new daemon serves.
case_keep_restarts_after_sigkill() {
  run_xl_create --timeout 5 "$config" -- --log-level debug
  check "exit 0" [ "$rc" -eq 0 ]
  local first keeper
  first=$(daemon_pid)
  keeper=$(keeper_pid)
  kill -KILL "$first"
  check "a new daemon serves" eventually 5 new_daemon_serving "$first"
  check "the same command, twice" [ "$(grep -c -xF "daemon --domid 7 --sbdf 00:05.0 --pid-file $work/run/7.pid --log-file $work/log/vgpu-ioreqd-7.log --run-dir $work/run --log-level debug" "$STUB_LOG")" -eq 2 ]
  check "by the same keeper" [ "$(parent_of "$(daemon_pid)")" = "$keeper" ]
  check "one restart line in the daemon's log" \
    [ "$(daemon_log | grep -c "vgpu-ioreqd $first was killed by signal 9; restarting it for domain 7 (restart 1 of at most 5 in 60s)")" -eq 1 ]
  # Exit 1 (a runtime failure) is restarted too.
  local second
  second=$(daemon_pid)
  kill -USR1 "$second"
  check "after exit 1: a new daemon serves" eventually 5 new_daemon_serving "$second"
  check "after exit 1: restart logged" contains "$(daemon_log)" "vgpu-ioreqd $second exited with status 1; restarting"
  check "three starts in all" [ "$(starts)" -eq 3 ]
}

# Exit 2 (usage) and exit 0 (guest gone / stopped) are final.
case_keep_exit_2_or_0_is_final() {
  local status
  for status in 2 0; do
    : >"$STUB_LOG"
    : >"$STUB_DOMAINS"
    STUB_USR1_EXIT=$status run_xl_create --timeout 5 "$config"
    check "[$status] started" [ "$rc" -eq 0 ]
    kill -USR1 "$(daemon_pid)"
    check "[$status] keeper exits" eventually 5 not keeper_alive
    sleep 0.3
    check "[$status] not restarted" [ "$(starts)" -eq 1 ]
    check "[$status] no restart line" not contains "$(daemon_log)" restarting
    rm -f "$work/run/7.pid"
  done
}

# A daemon that fails at every start: at most N restarts in the window,
# then the keeper gives up with the daemon's status, and the launcher
# reports it.
case_keep_budget_exhausted() {
  STUB_DAEMON_MODE=crash VGPU_KEEP_MAX_RESTARTS=3 run_xl_create --timeout 10 "$config"
  check "exit 1" [ "$rc" -eq 1 ]
  check "reports the daemon's status" contains "$err" "vgpu-ioreqd exited with status 1"
  check "1 start + 3 restarts" [ "$(starts)" -eq 4 ]
  check "3 restart lines" [ "$(daemon_log | grep -c "exited with status 1; restarting")" -eq 3 ]
  check "gives up, saying why" contains "$(daemon_log)" "3 restarts within 60s already: giving up"
  check "destroys the guest" logged "xl destroy 7"
}

# The domain is gone when the daemon dies: nothing to restart for.
case_keep_domain_gone() {
  run_xl_create --timeout 5 "$config"
  check "started" [ "$rc" -eq 0 ]
  local first
  first=$(daemon_pid)
  "$XL" destroy 7
  kill -KILL "$first"
  check "keeper exits" eventually 5 not keeper_alive
  sleep 0.3
  check "not restarted" [ "$(starts)" -eq 1 ]
  check "says why" contains "$(daemon_log)" "vgpu-ioreqd $first was killed by signal 9; domain 7 is gone: not restarting"
}

# The keeper on its own: its exit status is the daemon's last one.
case_keep_exit_status() {
  local keep=$script_dir/vgpu-keep
  echo "7 guest1" >"$STUB_DOMAINS"
  "$keep" --domid 7 -- sh -c 'exit 2' 2>"$work/stderr"
  check "exit 2 passed on" [ $? -eq 2 ]
  # shellcheck disable=SC2016 # expanded by the inner sh
  "$keep" --domid 7 --max-restarts 2 -- sh -c 'echo run >>"$0"; exit 1' "$work/runs" 2>"$work/stderr"
  check "exit 1 after the budget" [ $? -eq 1 ]
  check "run 3 times" [ "$(wc -l <"$work/runs")" -eq 3 ]
  "$keep" --domid 7 --max-restarts 0 -- sh -c 'kill -KILL $$' 2>"$work/stderr"
  check "death by SIGKILL as 137" [ $? -eq 137 ]
  "$keep" --domid 7 --max-restarts "$EVIL" -- true 2>"$work/stderr"
  check "bad --max-restarts: exit 2" [ $? -eq 2 ]
  check "nothing was executed" [ ! -e "$work/pwned" ]
  "$keep" --domid 7 2>"$work/stderr"
  check "no command: exit 2" [ $? -eq 2 ]
}

# SIGTERM to the keeper: passed on to the daemon, no restart, and the
# keeper exits with the daemon's status.
case_keep_stop_signal() {
  local keep=$script_dir/vgpu-keep pid
  echo "7 guest1" >"$STUB_DOMAINS"
  "$keep" --domid 7 --lock "$work/run/keep-dom7.lock" -- \
    "$VGPU_IOREQD" --domid 7 --pid-file "$work/run/7.pid" --run-dir "$work/run" 2>"$work/stderr" &
  pid=$!
  check "daemon up" eventually 5 store_is "$BACKEND/state" 4
  kill -TERM "$pid"
  wait "$pid"
  check "keeper exits 0 (the daemon's status)" [ $? -eq 0 ]
  check "daemon got SIGTERM" logged "daemon got TERM"
  check "not restarted" [ "$(starts)" -eq 1 ]
  check "lock released" not keeper_alive
}

case_xl_create_daemon_exits_early() {
  STUB_DAEMON_MODE=exit-early run_xl_create --timeout 5 "$config"
  check "exit 1" [ "$rc" -eq 1 ]
  check "says the daemon exited with its status" contains "$err" "vgpu-ioreqd exited with status 2"
  check "shows the daemon's own complaint" contains "$err" "not an HVM guest"
  check "destroys the guest" logged "xl destroy 7"
  check "never unpauses" not_logged "xl unpause"
}

case_xl_create_timeout() {
  STUB_DAEMON_MODE=hang run_xl_create --timeout 1 "$config"
  check "exit 1" [ "$rc" -eq 1 ]
  check "says it timed out" contains "$err" "timed out after 1s"
  check "stops the daemon" logged "daemon got TERM"
  check "destroys the guest" in_order "daemon got TERM" "xl destroy 7"
  check "never unpauses" not_logged "xl unpause"
  sleep 0.3
  check "keeper stopped first: the daemon was not restarted" [ "$(starts)" -eq 1 ]
  check "keeper gone" not keeper_alive
}

case_xl_create_create_fails() {
  STUB_XL_CREATE_FAIL=1 run_xl_create "$config"
  check "exit 1" [ "$rc" -eq 1 ]
  check "passes on xl's reason" contains "$err" "domain creation failed"
  check "no daemon started" not_logged "daemon "
  check "nothing to destroy" not_logged "xl destroy"
}

# name= is "web#1", and another guest is called "web": the '#' is inside the
# string, not a comment, and the other guest must never be touched.
case_xl_create_name_with_hash() {
  echo "3 web" >"$STUB_DOMAINS"
  printf 'type = "hvm"\nname = "web#1"   # was "web"\nmemory = 512\n' >"$config"
  STUB_NEW_NAME='web#1' run_xl_create --timeout 5 "$config"
  check "exit 0" [ "$rc" -eq 0 ]
  check "prints the new guest's domid" [ "$out" = 7 ]
  check "looks up the exact name" logged "xl domid web#1"
  check "daemon for the new guest" logged "daemon --domid 7 "
  check "no daemon for the other guest" not_logged "daemon --domid 3 "
  check "other guest not unpaused" not_logged "xl unpause 3"
  kill -TERM "$(daemon_pid)" 2>/dev/null

  : >"$STUB_LOG"
  echo "3 web" >"$STUB_DOMAINS"
  STUB_NEW_NAME='web#1' STUB_DAEMON_MODE=exit-early run_xl_create --timeout 5 "$config"
  check "failure: exit 1" [ "$rc" -eq 1 ]
  check "failure: destroys the guest it created" logged "xl destroy 7"
  check "failure: never destroys the other guest" not_logged "xl destroy 3"
  check "failure: the other guest is still there" grep -qx "3 web" "$STUB_DOMAINS"
}

# A name this script cannot be sure of is refused before anything is created.
case_xl_create_name_refused() {
  local cfg
  for cfg in 'memory = 512; name = "x"' 'name = "a\"b"' 'name = web' 'memory = 512' \
    $'name = "a"\nname = "b"'; do
    printf '%s\n' "$cfg" >"$config"
    run_xl_create --timeout 5 "$config"
    check "[$cfg] exit 2" [ "$rc" -eq 2 ]
    check "[$cfg] says why" contains "$err" "cannot tell the guest's name"
  done
  printf 'name = "guest1"\n' >"$config"
  echo "4 guest1" >"$STUB_DOMAINS"
  run_xl_create --timeout 5 "$config"
  check "name taken: exit 2" [ "$rc" -eq 2 ]
  check "name taken: says so" contains "$err" "a domain named 'guest1' already exists (domid 4)"
  check "xl create never called" not_logged "xl create"
}

# Bash arithmetic evaluates a variable's text: `a[$(cmd)]` would run cmd.
case_xl_create_rejects_bad_stop_timeout() {
  local v
  for v in "$EVIL" 0 1e3 0x10 601 ' 5'; do
    : >"$STUB_LOG"
    STUB_DAEMON_MODE=hang VGPU_STOP_TIMEOUT=$v run_xl_create --timeout 1 "$config"
    check "[$v] exit 2" [ "$rc" -eq 2 ]
    check "[$v] names the setting" contains "$err" "VGPU_STOP_TIMEOUT must be a whole number"
    check "[$v] xl never called" not_logged "xl "
  done
  check "nothing was executed" [ ! -e "$work/pwned" ]
}

case_xl_create_usage() {
  run_xl_create --timeout 5
  check "no config: exit 2" [ "$rc" -eq 2 ]
  run_xl_create --timeout soon "$config"
  check "bad timeout: exit 2" [ "$rc" -eq 2 ]
  check "names the problem" contains "$err" "--timeout must be"
  check "xl never called" not_logged "xl "
}

prepare_backend() {
  mkdir -p "$STUB_STORE$BACKEND"
  echo 7 >"$STUB_STORE$BACKEND/frontend-id"
  echo 00:05.0 >"$STUB_STORE$BACKEND/sbdf"
}

run_hotplug() {
  XENBUS_PATH=$BACKEND "$script_dir/vgpu-hotplug" "$1" 2>"$work/stderr"
  rc=$?
  err=$(cat "$work/stderr")
}

case_hotplug_add_remove() {
  prepare_backend
  run_hotplug add
  check "add: exit 0" [ "$rc" -eq 0 ]
  check "add: domid and sbdf from XENBUS_PATH" \
    logged "daemon --domid 7 --sbdf 00:05.0 --pid-file $work/run/7.pid --log-file $work/log/vgpu-ioreqd-7.log --run-dir $work/run"
  check "add: hotplug-status connected" store_is "$BACKEND/hotplug-status" connected
  local pid first
  first=$(daemon_pid)
  check "add: daemon running" alive "$first"
  check "add: under a keeper" [ "$(parent_of "$first")" = "$(keeper_pid)" ]
  # The keeper asks xl whether the domain exists.
  echo "7 guest1" >"$STUB_DOMAINS"
  kill -KILL "$first"
  check "killed: a new daemon serves" eventually 5 new_daemon_serving "$first"
  pid=$(daemon_pid)
  run_hotplug remove
  check "remove: exit 0" [ "$rc" -eq 0 ]
  check "remove: SIGTERM delivered" logged "daemon got TERM"
  check "remove: keeper stopped first" contains "$err" "stopped vgpu-keep"
  check "remove: keeper gone" not keeper_alive
  sleep 0.3
  check "remove: daemon gone" not alive "$pid"
  check "remove: not restarted" [ "$(starts)" -eq 2 ]
  check "remove: pid file gone" [ ! -e "$work/run/7.pid" ]
}

not() { ! "$@"; }

case_hotplug_add_failure() {
  prepare_backend
  STUB_DAEMON_MODE=exit-early run_hotplug add
  check "exit 1" [ "$rc" -eq 1 ]
  check "hotplug-status error" store_is "$BACKEND/hotplug-status" error
  check "hotplug-error has the reason" \
    grep -q "exited with status 2.*not an HVM guest" "$STUB_STORE$BACKEND/hotplug-error"
}

case_hotplug_add_timeout() {
  prepare_backend
  STUB_DAEMON_MODE=hang VGPU_TIMEOUT=1 run_hotplug add
  check "exit 1" [ "$rc" -eq 1 ]
  check "hotplug-status error" store_is "$BACKEND/hotplug-status" error
  check "daemon stopped" logged "daemon got TERM"
}

case_hotplug_remove_escalates_to_sigkill() {
  prepare_backend
  export STUB_DAEMON_MODE=ignore-term
  XENBUS_PATH=$BACKEND setsid "$VGPU_IOREQD" --domid 7 --sbdf 00:05.0 --run-dir "$work/run" \
    --pid-file "$work/run/7.pid" &
  local pid=$!
  sleep 0.2
  VGPU_STOP_TIMEOUT=1 run_hotplug remove
  check "exit 0" [ "$rc" -eq 0 ]
  check "says it used SIGKILL" contains "$err" "SIGKILL"
  wait "$pid" 2>/dev/null
  check "daemon gone" not alive "$pid"
}

# The daemon died long ago and its pid now belongs to another process; the
# pid file and the (unlocked) lock file still name it. remove must leave that
# process alone: only a held instance lock proves the daemon lives.
case_hotplug_remove_spares_reused_pid() {
  prepare_backend
  sleep 30 &
  local bystander=$!
  echo "$bystander" >"$work/run/7.pid"
  echo "$bystander" >"$work/run/dom7-0000-00-05.0.lock"
  run_hotplug remove
  check "exit 0" [ "$rc" -eq 0 ]
  sleep 0.1
  check "the bystander was not signalled" alive "$bystander"
  check "stale pid file removed" [ ! -e "$work/run/7.pid" ]
  kill -KILL "$bystander" 2>/dev/null
  wait "$bystander" 2>/dev/null
}

# Bash arithmetic evaluates a variable's text: `a[$(cmd)]` would run cmd.
case_hotplug_rejects_bad_timeouts() {
  local v
  prepare_backend
  for v in "$EVIL" 0 1e3 0x10 3601 ' 5'; do
    VGPU_TIMEOUT=$v STUB_DAEMON_MODE=hang run_hotplug add
    check "add [$v]: exit 1" [ "$rc" -eq 1 ]
    check "add [$v]: names the setting" contains "$err" "VGPU_TIMEOUT must be a whole number"
    check "add [$v]: hotplug-status error" store_is "$BACKEND/hotplug-status" error
  done
  check "add: no daemon started" not_logged "daemon "
  run_hotplug add
  check "add with good settings: exit 0" [ "$rc" -eq 0 ]
  local pid
  pid=$(daemon_pid)
  VGPU_STOP_TIMEOUT=$EVIL run_hotplug remove
  check "remove: exit 1" [ "$rc" -eq 1 ]
  check "remove: names the setting" contains "$err" "VGPU_STOP_TIMEOUT must be a whole number"
  check "remove: daemon left alone" alive "$pid"
  check "nothing was executed" [ ! -e "$work/pwned" ]
}

case_hotplug_usage() {
  "$script_dir/vgpu-hotplug" online 2>/dev/null
  check "unknown action: exit 2" [ $? -eq 2 ]
  "$script_dir/vgpu-hotplug" add 2>/dev/null
  check "no XENBUS_PATH: exit 2" [ $? -eq 2 ]
}

mkdir -p "$work/run"
if ! declare -F "case_$case_name" >/dev/null; then
  echo "unknown case '$case_name'" >&2
  exit 2
fi
"case_$case_name"
if ((failures > 0)); then
  echo "--- calls ---"
  cat "$STUB_LOG"
  echo "--- stderr ---"
  cat "$work/stderr" 2>/dev/null
  exit 1
fi
