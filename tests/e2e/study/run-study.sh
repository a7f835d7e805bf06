#!/bin/bash
# Guest crash study (docs/e2e.md, "Guest crash study"): runs many e2e guests
# back to back, several per QEMU boot, each under one "arm" (which ioreq
# server serves 00:05.0, and how; which TCG threading and CPU model), with
# the arms interleaved round-robin so that the host's varying load hits all
# of them alike, and tallies the guests whose kernel crashed. No retries.
#
#   tests/e2e/study/run-study.sh [options] [OUT_DIR]     (default build-study/)
#   --guests N          stop after N guests in all (default 150)
#   --hours H           start no boot after H hours (default 4)
#   --per-boot K        guests per QEMU boot (default 12)
#   --arms "A B ..."    in-Dom0 arms for the multi-threaded qemu64 boots
#                       (default "none shipped cmin-0"); ARM[+load] adds the
#                       Dom0 polling load; ARM@1 runs it with 1 vCPU (default 2)
#   --boot-kinds "multi/qemu64,+svm,+npt single/qemu64,+svm,+npt ..."
#                       the boot kinds, cycled; a kind other than the first
#                       runs only the arms in --other-arms (default
#                       "none shipped") (default: the first kind only)
#   --other-arms "A B"  see --boot-kinds
#   --soak S            each guest keeps its vCPUs making user-mode requests
#                       to 00:05.0 for S more seconds (guest/init, e2e.soak=S;
#                       default 0: the e2e's own workload only)
#   --daemon PATH       a vgpu-ioreqd built with -DVGPU_STUDY_ARMS=ON (default:
#                       build it in OUT_DIR/daemon)
#   --silence S         a boot whose serial log stays silent S seconds is a
#                       hung emulated machine (it happens: docs/e2e.md): its
#                       QEMU is killed, the hang logged in OUT_DIR/hangs.log,
#                       and its unfinished guest planned again (default 240)
#   --summarize         only re-tally OUT_DIR/results.tsv (study-summary.py)
#
# Writes OUT_DIR/results.tsv (one line per guest: boot, seq, arm, vcpus,
# load, tcg, cpu, outcome, seconds, host load average, requests served),
# OUT_DIR/boots/bNNN/ (serial log, report, run.sh output of each boot),
# OUT_DIR/crashes/ (per crash: xenctx, guest console, daemon log with its
# trace ring) and prints the tally (tests/e2e/study/study-summary.py).
# Needs root and ~3 GiB of RAM, like tests/e2e/run.sh, whose machinery it
# uses (run.sh --dom0-extra puts the plan and tools into the Dom0 image).
set -euo pipefail
{
STUDY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh # (linted from tests/e2e)
source "$STUDY_DIR/../lib.sh"

GUESTS=150
HOURS=4
PER_BOOT=12
ARMS="none shipped cmin-0"
BOOT_KINDS="multi/qemu64,+svm,+npt"
OTHER_ARMS="none shipped"
DAEMON=
SOAK=0
SUMMARIZE=0
SILENCE=240
OUT=
while (($#)); do
  case $1 in
    --guests) GUESTS=$2; shift 2 ;;
    --hours) HOURS=$2; shift 2 ;;
    --per-boot) PER_BOOT=$2; shift 2 ;;
    --arms) ARMS=$2; shift 2 ;;
    --boot-kinds) BOOT_KINDS=$2; shift 2 ;;
    --other-arms) OTHER_ARMS=$2; shift 2 ;;
    --daemon) DAEMON=$2; shift 2 ;;
    --soak) SOAK=$2; shift 2 ;;
    --silence) SILENCE=$2; shift 2 ;;
    --summarize) SUMMARIZE=1; shift ;;
    -h | --help) sed -n '2,37p' "$0"; exit 0 ;;
    -*) e2e_die "unknown option $1 (see --help)" ;;
    *) OUT=$1; shift ;;
  esac
done
OUT=$(realpath -m "${OUT:-$E2E_REPO_DIR/build-study}")
RESULTS=$OUT/results.tsv
if ((SUMMARIZE)); then
  exec python3 "$STUDY_DIR/study-summary.py" "$RESULTS"
fi
mkdir -p "$OUT/boots" "$OUT/crashes" "$OUT/extra/e2e" "$OUT/extra/usr/bin"
E2E_BUILD=$OUT/e2e
LOADLOG=$OUT/loadavg.log

# --- the tools ---------------------------------------------------------------
e2e_install_host_pkgs
if [[ -z $DAEMON ]]; then
  e2e_log "building vgpu-ioreqd with -DVGPU_STUDY_ARMS=ON in $OUT/daemon"
  cmake -S "$E2E_REPO_DIR" -B "$OUT/daemon" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVGPU_STUDY_ARMS=ON -DVGPU_BUILD_TESTS=OFF -DVGPU_BUILD_BENCH=OFF >"$OUT/daemon-build.log" 2>&1
  cmake --build "$OUT/daemon" -j2 --target vgpu-ioreqd >>"$OUT/daemon-build.log" 2>&1 ||
    e2e_die "daemon build failed ($OUT/daemon-build.log)"
  DAEMON=$OUT/daemon/src/app/vgpu-ioreqd
fi
DAEMON=$(realpath "$DAEMON")
gcc -O2 -Wall -Wextra -Werror -o "$OUT/extra/usr/bin/min-ioreq-server" \
  "$STUDY_DIR/min-ioreq-server.c" -lxendevicemodel -lxenforeignmemory -lxenevtchn
install -m 0644 "$STUDY_DIR/dom0-study.sh" "$OUT/extra/e2e/study.sh"

# --- the host's load, sampled all along --------------------------------------
(while :; do
  printf '%s %s\n' "$EPOCHSECONDS" "$(cut -d' ' -f1 /proc/loadavg)"
  sleep 10
done) >>"$LOADLOG" &
SAMPLER=$!
WATCHDOG=
trap 'kill "$SAMPLER" ${WATCHDOG:-} 2>/dev/null || true' EXIT

# watchdog BOOT_DIR: kills this boot's QEMU once its serial log has been
# silent for SILENCE seconds (Xen, Dom0 and the guest all print while alive).
watchdog() {
  local serial=$E2E_BUILD/serial.log pid age
  while sleep 10; do
    pid=$(pgrep -f "^qemu-system-x86_64 .*$E2E_BUILD/" | head -n 1)
    [[ -n $pid ]] || continue
    [[ -f $serial ]] || continue
    age=$((EPOCHSECONDS - $(stat -c %Y "$serial")))
    if ((age > SILENCE)); then
      printf '%s %s: serial log silent %ss, QEMU %s killed; last line: %s\n' "$(date +%T)" \
        "$(basename "$1")" "$age" "$pid" "$(tail -n 1 "$serial" | tr -d '\r\000')" >>"$OUT/hangs.log"
      kill "$pid"
    fi
  done
}

[[ -s $RESULTS ]] ||
  printf 'boot\tseq\tarm\tvcpus\tload\ttcg\tcpu\toutcome\tseconds\thost_load\tserved\n' >"$RESULTS"

# --- the plan: kinds cycled per boot, arms cycled per guest -------------------
read -r -a kinds <<<"$BOOT_KINDS"
read -r -a main_arms <<<"$ARMS"
read -r -a other_arms <<<"$OTHER_ARMS"
boot=$(find "$OUT/boots" -mindepth 1 -maxdepth 1 -type d | wc -l)
seq=$(($(wc -l <"$RESULTS") - 1))
main_i=$seq
other_i=0
deadline=$((EPOCHSECONDS + $(awk -v h="$HOURS" 'BEGIN { printf "%d", h * 3600 }')))

# plan_entry SEQ ARMSPEC: "SEQ:ARM:VCPUS:LOAD" for ARM[+load][@VCPUS].
plan_entry() {
  local spec=$2 load=0 vcpus=2 arm
  [[ $spec == *@* ]] && vcpus=${spec##*@} && spec=${spec%@*}
  [[ $spec == *+load ]] && load=1 && spec=${spec%+load}
  arm=$spec
  printf '%s:%s:%s:%s' "$1" "$arm" "$vcpus" "$load"
}

while ((seq < GUESTS && EPOCHSECONDS < deadline)); do
  kind=${kinds[$((boot % ${#kinds[@]}))]}
  tcg=${kind%%/*}
  cpu=${kind#*/}
  plan=()
  for ((k = 0; k < PER_BOOT && seq + k < GUESTS; k++)); do
    if [[ $kind == "${kinds[0]}" ]]; then
      plan+=("$(plan_entry $((seq + k + 1)) "${main_arms[$((main_i % ${#main_arms[@]}))]}")")
      main_i=$((main_i + 1))
    else
      plan+=("$(plan_entry $((seq + k + 1)) "${other_arms[$((other_i % ${#other_arms[@]}))]}")")
      other_i=$((other_i + 1))
    fi
  done
  bdir=$OUT/boots/$(printf 'b%03d' "$boot")
  mkdir -p "$bdir"
  printf 'E2E_STUDY_PLAN=%q\n' "${plan[*]}" >"$OUT/extra/e2e/study.conf"
  e2e_log "boot $boot ($kind): ${plan[*]}"
  started=$EPOCHSECONDS
  soak_arg=
  ((SOAK > 0)) && soak_arg=" e2e.soak=$SOAK"
  watchdog "$bdir" &
  WATCHDOG=$!
  E2E_GUEST_CMDLINE="console=hvc0 pci=noearly loglevel=4 panic=-1$soak_arg" \
    E2E_GUEST_TIMEOUT=$((900 + SOAK)) E2E_LAUNCH_TIMEOUT=300 E2E_EXIT_TIMEOUT=90 \
    "$E2E_SRC_DIR/run.sh" --mode launcher --daemon "$DAEMON" --dom0-extra "$OUT/extra" \
    --tcg-thread "$tcg" --qemu-cpu "$cpu" --qemu-timeout $((PER_BOOT * 1000 + 300)) \
    "$E2E_BUILD" >"$bdir/run.out" 2>"$bdir/run.err" || true
  kill "$WATCHDOG" 2>/dev/null || true
  wait "$WATCHDOG" 2>/dev/null || true
  cp "$E2E_BUILD/serial.ts.log" "$E2E_BUILD/report.txt" "$bdir/" 2>/dev/null || true
  printf '%s\n' "${plan[@]}" >"$bdir/plan.txt"
  qemu_t0=$(sed -n 's/^\[e2e \([0-9:]*\)\] starting QEMU.*/\1/p' "$bdir/run.err" | head -n 1)
  qemu_t0=$(date -d "$(date -d "@$started" +%F) $qemu_t0" +%s 2>/dev/null || echo "$started")
  python3 "$STUDY_DIR/study-collect.py" --boot "$boot" --tcg "$tcg" --cpu "$cpu" \
    --qemu-t0 "$qemu_t0" --loadlog "$LOADLOG" --crash-dir "$OUT/crashes" \
    "$bdir/serial.ts.log" "$bdir/plan.txt" >>"$RESULTS"
  n_done=$(($(wc -l <"$RESULTS") - 1))
  ((n_done > seq)) || e2e_log "boot $boot ran no guest (see $bdir/run.err)"
  # A guest that was planned but not run (the boot ended early) is planned again later.
  seq=$n_done
  boot=$((boot + 1))
  e2e_log "boot done in $((EPOCHSECONDS - started))s; $seq guests so far"
  python3 "$STUDY_DIR/study-summary.py" "$RESULTS" >"$OUT/summary.txt" || true
done
python3 "$STUDY_DIR/study-summary.py" "$RESULTS" | tee "$OUT/summary.txt"
}
