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
export STUB_LOG=$work/calls.log STUB_STORE=$work/store
export XL=$stubs/xl XENSTORE_READ=$stubs/xenstore-read XENSTORE_WRITE=$stubs/xenstore-write
export VGPU_IOREQD=$stubs/vgpu-ioreqd VGPU_RUN_DIR=$work/run VGPU_LOG_DIR=$work/log
export VGPU_POLL_INTERVAL=0.05 VGPU_STOP_TIMEOUT=2
readonly BACKEND=/local/domain/0/backend/vgpu/7/0
mkdir -p "$STUB_STORE"
: >"$STUB_LOG"

cleanup() {
  local pid
  for f in "$work"/run/*.pid; do
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

config=$work/guest.cfg
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
  check "create -p, domid by name, daemon, unpause in order" \
    in_order "xl create -p $config" "xl domid guest1" \
    "daemon --domid 7 --sbdf 00:05.0 --pid-file $work/run/7.pid --log-file $work/log/vgpu-ioreqd-7.log --log-level debug" \
    "xenstore-write $BACKEND/hotplug-status connected" "xl unpause 7"
  check "hotplug-status connected" store_is "$BACKEND/hotplug-status" connected
  check "no destroy" not_logged "xl destroy"
  check "daemon keeps running" alive "$(daemon_pid)"
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
}

case_xl_create_create_fails() {
  STUB_XL_CREATE_FAIL=1 run_xl_create "$config"
  check "exit 1" [ "$rc" -eq 1 ]
  check "passes on xl's reason" contains "$err" "domain creation failed"
  check "no daemon started" not_logged "daemon "
  check "nothing to destroy" not_logged "xl destroy"
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
    logged "daemon --domid 7 --sbdf 00:05.0 --pid-file $work/run/7.pid --log-file $work/log/vgpu-ioreqd-7.log"
  check "add: hotplug-status connected" store_is "$BACKEND/hotplug-status" connected
  local pid
  pid=$(daemon_pid)
  check "add: daemon running" alive "$pid"
  run_hotplug remove
  check "remove: exit 0" [ "$rc" -eq 0 ]
  check "remove: SIGTERM delivered" logged "daemon got TERM"
  sleep 0.1
  check "remove: daemon gone" not alive "$pid"
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
  XENBUS_PATH=$BACKEND setsid "$VGPU_IOREQD" --domid 7 --pid-file "$work/run/7.pid" &
  local pid=$!
  sleep 0.2
  VGPU_STOP_TIMEOUT=1 run_hotplug remove
  check "exit 0" [ "$rc" -eq 0 ]
  check "says it used SIGKILL" contains "$err" "SIGKILL"
  wait "$pid" 2>/dev/null
  check "daemon gone" not alive "$pid"
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
