#!/bin/sh
# Guest-side check of the vgpu kernel module and vgpuctl (busybox ash), run
# by /init after queue-test. Prints "E2E-RESULT PASS|FAIL driver.<name>
# <detail>" per check and "E2E-PERF driver ..." with vgpuctl bench's numbers.
#
#   driver-test.sh [PCI-ADDRESS]
ADDR=${1:-0000:00:05.0}
DEV=/sys/bus/pci/devices/$ADDR
KO=/usr/lib/vgpu/vgpu.ko
NPROC=3 # concurrent vgpuctl processes

result() {
	_st=$1
	_name=$2
	shift 2
	echo "E2E-RESULT $_st driver.$_name $*"
}
ok() { # ok CONDITION-EXIT-CODE NAME DETAIL...
	_rc=$1
	shift
	if [ "$_rc" -eq 0 ]; then result PASS "$@"; else result FAIL "$@"; fi
}
bound_to() { basename "$(readlink "$DEV/driver" 2>/dev/null)" 2>/dev/null; }
irqs() { awk '/ vgpu[0-9]+$/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' /proc/interrupts; }

insmod "$KO"
ok $? insmod "insmod $KO"
drv=$(bound_to)
[ "$drv" = vgpu ]
ok $? bound "$DEV/driver -> ${drv:-nothing}"
# lspci -k reads the same link; libkmod's complaint (no module index here) is noise.
lk=$(lspci -k -s "${ADDR#0000:}" 2>&1 | grep 'Kernel driver in use' | sed 's/^[[:space:]]*//')
[ "$lk" = "Kernel driver in use: vgpu" ]
ok $? lspci-k "${lk:-no 'Kernel driver in use' line}"
msi=$(lspci -vv -s "${ADDR#0000:}" 2>/dev/null | grep -o 'MSI: Enable[+-] Count=[^ ]*')
nmsi=0
for f in "$DEV"/msi_irqs/*; do [ -e "$f" ] && nmsi=$((nmsi + 1)); done
case $msi in "MSI: Enable+"*) [ "$nmsi" -eq 1 ] ;; *) false ;; esac
ok $? msi "lspci -vv: '${msi}', $nmsi vector(s) in msi_irqs"
[ -c /dev/vgpu0 ]
ok $? devnode "$(ls -l /dev/vgpu0 2>&1)"
vgpuctl info | sed 's/^/E2E-INFO driver.info: /'

i0=$(irqs)
vgpuctl selftest >/tmp/selftest.out 2>&1
rc=$?
sed -e 's/^PASS /E2E-RESULT PASS driver.selftest./' -e 's/^FAIL /E2E-RESULT FAIL driver.selftest./' \
	-e 's/^selftest: /E2E-INFO driver.selftest: /' /tmp/selftest.out
ok $rc selftest "vgpuctl selftest exit $rc: $(tail -n 1 /tmp/selftest.out)"
i1=$(irqs)
[ "$i1" -gt "$i0" ]
ok $? interrupts "/proc/interrupts vgpu line: $i0 -> $i1 over the selftest ($(grep ' vgpu[0-9]*$' /proc/interrupts | tr -s ' '))"

# Several processes at once on one device, each with its own handles.
n=0
pids=
while [ "$n" -lt "$NPROC" ]; do
	vgpuctl selftest --shared >"/tmp/conc$n.out" 2>&1 &
	pids="$pids $!"
	n=$((n + 1))
done
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
fails=$(cat /tmp/conc*.out | grep -c '^FAIL')
[ "$bad" -eq 0 ] && [ "$fails" -eq 0 ]
ok $? concurrent "$NPROC x 'vgpuctl selftest --shared' at once: $bad exited non-zero, $fails failed checks$(grep -h '^FAIL' /tmp/conc*.out | head -n 2 | tr '\n' ';')"
# Nothing left behind: no handle, no pinned page, all device memory free.
info=$(vgpuctl info)
mfree=$(echo "$info" | sed -n 's/^memory: *\([0-9]*\) of .*/\1/p')
mtotal=$(echo "$info" | sed -n 's/^memory: *[0-9]* of \([0-9]*\) bytes.*/\1/p')
handles=$(echo "$info" | sed -n 's/^handles: *\([0-9]*\) live.*/\1/p')
pinned=$(echo "$info" | sed -n 's/.* \([0-9]*\) pages pinned.*/\1/p')
[ -n "$mfree" ] && [ "$mfree" = "$mtotal" ] && [ "$handles" = 0 ] && [ "$pinned" = 0 ]
ok $? no-leak "after the processes exited: MEM_FREE $mfree of $mtotal, $handles device handles, $pinned pages pinned"

# Unload and load twice, then unbind and bind; the device works each time.
cycle=1
while [ "$cycle" -le 2 ]; do
	rmmod vgpu && [ -z "$(bound_to)" ] && [ ! -e /dev/vgpu0 ] && insmod "$KO" && [ "$(bound_to)" = vgpu ] &&
		vgpuctl ping 3 >/tmp/ping.out 2>&1
	ok $? "reload$cycle" "rmmod + insmod: $(cat /tmp/ping.out 2>/dev/null)"
	cycle=$((cycle + 1))
done
echo "$ADDR" >/sys/bus/pci/drivers/vgpu/unbind && [ -z "$(bound_to)" ] &&
	echo "$ADDR" >/sys/bus/pci/drivers/vgpu/bind && [ "$(bound_to)" = vgpu ] &&
	vgpuctl ping 3 >/tmp/ping.out 2>&1
ok $? rebind "unbind + bind: $(cat /tmp/ping.out 2>/dev/null)"
# An open file across unbind: its calls fail cleanly, closing it is fine.
(
	exec 3<>/dev/vgpu0
	echo "$ADDR" >/sys/bus/pci/drivers/vgpu/unbind
	echo "$ADDR" >/sys/bus/pci/drivers/vgpu/bind
	exec 3>&-
) && [ "$(bound_to)" = vgpu ] && vgpuctl ping 3 >/tmp/after.out 2>&1
ok $? unbind-open "unbind with /dev/vgpu0 open, bind, /dev/vgpu0 again: $(cat /tmp/after.out 2>/dev/null)"

# Timing (a measurement, not a check; its presence is checked on the host).
b=$(vgpuctl bench --quick 2>&1 | sed -n 's/^BENCH //p' | tr '\n' ' ')
echo "E2E-PERF driver $b"
vgpuctl info | sed 's/^/E2E-INFO driver.info-end: /'

oops=$(dmesg | grep -E 'WARNING:|BUG:|Oops|Call Trace|general protection|kernel BUG' | head -n 3 | tr '\n' '|')
[ -z "$oops" ]
ok $? dmesg-clean "no WARNING/BUG/Oops in dmesg${oops:+: $oops}"
echo "E2E-INFO driver.interrupts: $(grep ' vgpu[0-9]*$' /proc/interrupts | tr -s ' ')"
