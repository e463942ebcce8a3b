#!/bin/sh
# The sandbox's cgroup v2 layer on a kernel whose memory and pids controllers
# are on cgroup v2 (this project's own CI host binds them to cgroup v1, so the
# unit cases that need them skip there). Boots Debian's own kernel (package
# linux-image-amd64, unpacked, not installed) under qemu. The initramfs holds
# busybox, the kernel's virtio/9p modules, kiln, the unit test runner and the
# helpers; the VM's root is a tmpfs with the host's /usr and /etc mounted
# read-only over 9p (so kiln runs on Debian's libraries, python3 and pandas).
# Inside:
#   - the sandbox unit cases about cgroups and limits (cgroup_pids and
#     cgroup_memory must run, not skip: each shows its attack stopped with
#     the cgroup and succeeding without it);
#   - kiln doctor with KILN_CGROUP=require with kiln in the root cgroup, alone
#     in a cgroup delegated as systemd marks it (trusted.delegate: it moves
#     into the leaf kiln-main and makes the sandbox cgroups beside it), in a
#     container's cgroup namespace, and with a directory given by path;
#   - cgroups kiln must leave alone: one nobody delegated, one shared with
#     another process (where "require" refuses to serve), a given directory
#     that holds a process;
#   - kiln as a user other than root in a cgroup delegated to it (owned by
#     it): doctor with "require", and a process tree over memory.max (which
#     runs with the cgroup off);
#   - executeCode end to end (tests/vm/e2e.py): a process tree over the
#     memory limit ends with MEMORY_LIMIT cold, warm from a standby sandbox
#     and back to back, and runs with the cgroup off.
# Ends with "N passed, N failed". Needs root (apt-get) and a few minutes.
# Usage: tests/vm/run.sh BUILD_DIR
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VM="$ROOT/$BUILD/vm"
RUN="$ROOT/$BUILD/tests/unit/run"
KILN="$ROOT/$BUILD/kiln"
test -x "$RUN" && test -x "$KILN" || { echo "tests/vm: build $RUN and $KILN first" >&2; exit 1; }

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 >/dev/null ||
        { echo "tests/vm: cannot install qemu-system-x86" >&2; exit 1; }
fi
mkdir -p "$VM/debs"
chmod 777 "$VM/debs" # apt-get download runs as _apt where it can
if ! ls "$VM"/k/boot/vmlinuz-* >/dev/null 2>&1; then
    # The kernel linux-image-amd64 points at, and busybox-static, unpacked.
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
    test -n "$kpkg" || { echo "tests/vm: no linux-image-amd64 in apt's lists" >&2; exit 1; }
    (cd "$VM/debs" && apt-get download -q "$kpkg" busybox-static >/dev/null 2>&1) ||
        { echo "tests/vm: cannot download $kpkg busybox-static" >&2; exit 1; }
    rm -rf "$VM/k" "$VM/bb"
    dpkg-deb -x "$VM"/debs/"$kpkg"_*.deb "$VM/k"
    dpkg-deb -x "$VM"/debs/busybox-static_*.deb "$VM/bb"
fi
KERNEL=$(ls "$VM"/k/boot/vmlinuz-* | head -1)
BB="$VM/bb/bin/busybox"

R="$VM/root"
rm -rf "$R"
mkdir -p "$R/bin" "$R/modules" "$R/work" "$R/newroot" "$R/host" "$R/proc" "$R/sys" "$R/dev"
cp "$BB" "$R/bin/busybox"
cp "$BB" "$R/work/busybox"
cp "$RUN" "$R/work/run"
cp "$KILN" "$R/work/kiln"
cp "$ROOT/tests/vm/e2e.py" "$R/work/e2e.py"
cp "$ROOT/bench/warm.py" "$R/work/warm.py"
cp "$ROOT/tests/vm/tree.py" "$R/work/tree.py"
${CC:-cc} -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$R/work/vmhelper" "$ROOT/tests/vm/vmhelper.c"
# virtio and 9p, to mount the host's / read-only: the VM runs on the host's
# own /usr (libraries, Debian's python3 and pandas) and /etc.
MODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet
9pnet_virtio 9p"
for m in $MODS; do
    f=$(find "$VM"/k/lib/modules -name "$m.ko" | head -1)
    test -n "$f" || { echo "tests/vm: module $m not in the kernel package" >&2; exit 1; }
    cp "$f" "$R/modules/"
done
echo "$MODS" | tr '\n' ' ' >"$R/modules/order"

# pivot_root cannot leave the initramfs (rootfs): the real root is a tmpfs
# with the host's /usr and /etc bound read-only.
cat >"$R/init" <<'EOF'
#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
for m in $($B cat /modules/order); do $B insmod /modules/$m.ko || echo "VM FAIL insmod $m"; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro host /host || echo "VM FAIL mount 9p"
$B mount -t tmpfs -o size=1500m none /newroot
cd /newroot
$B mkdir -p usr etc proc sys tmp dev var/tmp work
for d in usr etc; do $B mount --bind /host/$d $d && $B mount -o remount,bind,ro $d; done
for l in bin sbin lib lib64; do $B ln -s usr/$l $l; done
$B cp -a /work/. work/
$B umount /proc
exec $B switch_root /newroot /work/busybox sh /work/init2
EOF
cat >"$R/work/init2" <<'EOF'
mkdir -p /work/bin
/work/busybox --install -s /work/bin
export PATH=/work/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
chmod 1777 /tmp /var/tmp
export TMPDIR=/tmp HOME=/tmp KILN_STORE_DIR=/tmp/store
cd /work
CG=/sys/fs/cgroup
ok() { echo "VM PASS $1"; }
bad() { echo "VM FAIL $1"; }
# no sandbox cgroup left under $1 (which must exist)
clean() { test -d "$1" && ! ls "$1" | grep -q '^sbx-'; }
# kiln doctor --json output $1 has the sandbox cgroups in $2 with both limits
full() {
    grep -q "\"dir\": *\"$2\"" "$1" && grep -q '"memory": *true' "$1" &&
        grep -q '"pids": *true' "$1" && grep -q '"all": *{ *"ok": *true' "$1"
}
echo "VM kernel $(uname -r), cgroup v2 controllers: $(cat $CG/cgroup.controllers)"

# 1. the unit cases, kiln in the hierarchy's root
./run sbx/cgroup sbx/fork_bomb sbx/memory_limit sbx/daemon_killed sbx/echo \
    sbx/timeout_kills >/tmp/unit.txt 2>&1
cat /tmp/unit.txt
if tail -1 /tmp/unit.txt | grep -q ' 0 failed' && ! grep -q '^SKIP' /tmp/unit.txt; then
    ok "unit cases (none skipped)"; else bad "unit cases"; fi
clean $CG/kiln && ok "no cgroup left" || bad "no cgroup left"

# 2. "require" in the root
KILN_CGROUP=require ./kiln doctor --json >/tmp/d1.txt 2>&1
full /tmp/d1.txt $CG/kiln && clean $CG/kiln && ok "require, root cgroup" ||
    { cat /tmp/d1.txt; bad "require, root cgroup"; }

# 3. alone in a cgroup delegated as systemd marks it: kiln moves into kiln-main
mkdir $CG/svc
./vmhelper xattr $CG/svc trusted.delegate 1
sh -c "echo \$\$ >$CG/svc/cgroup.procs; KILN_CGROUP=require exec ./kiln doctor --json" \
    >/tmp/d2.txt 2>&1
full /tmp/d2.txt $CG/svc && test -d $CG/svc/kiln-main && clean $CG/svc &&
    ok "require, delegated cgroup" || { cat /tmp/d2.txt; bad "require, delegated cgroup"; }

# 4. alone in a cgroup nobody delegated: left alone
mkdir $CG/plain
sh -c "echo \$\$ >$CG/plain/cgroup.procs; exec ./kiln doctor --json" >/tmp/d3.txt 2>&1
grep -q '"inUse": *false' /tmp/d3.txt && grep -q 'is not delegated' /tmp/d3.txt &&
    ! test -d $CG/plain/kiln-main && ok "undelegated cgroup not used" ||
    { cat /tmp/d3.txt; bad "undelegated cgroup not used"; }

# 5. a delegated cgroup shared with another process: not used; "require"
#    refuses to serve
mkdir $CG/shared
./vmhelper xattr $CG/shared trusted.delegate 1
sh -c "echo \$\$ >$CG/shared/cgroup.procs; sleep 20 & ./kiln doctor --json; \
    KILN_CGROUP=require ./kiln mcp </dev/null; echo mcp-exit=\$?; kill \$!" >/tmp/d4.txt 2>&1
grep -q '"inUse": *false' /tmp/d4.txt && grep -q 'holds other processes' /tmp/d4.txt &&
    ok "shared cgroup not used" || { cat /tmp/d4.txt; bad "shared cgroup not used"; }
grep -q 'mcp-exit=2' /tmp/d4.txt && grep -q 'cgroup v2 limits are required' /tmp/d4.txt &&
    ok "require refuses to serve" || { cat /tmp/d4.txt; bad "require refuses to serve"; }

# 6. a container: its own cgroup namespace, cgroup2 mounted writable; kiln
#    sees "/" (not the real root) and moves into kiln-main
mkdir $CG/ctr
sh -c "echo \$\$ >$CG/ctr/cgroup.procs; KILN_CGROUP=require exec ./vmhelper cgns ./kiln \
    doctor --json" >/tmp/d5.txt 2>&1
full /tmp/d5.txt $CG && test -d $CG/ctr/kiln-main && clean $CG/ctr &&
    ok "require, container cgroup namespace" || { cat /tmp/d5.txt; bad "container"; }

# 7. a directory given by path (empty); one with a process is refused
mkdir $CG/given
KILN_CGROUP=$CG/given ./kiln doctor --json >/tmp/d6.txt 2>&1
full /tmp/d6.txt $CG/given && clean $CG/given && ok "path mode" ||
    { cat /tmp/d6.txt; bad "path mode"; }
mkdir $CG/busy
sh -c "echo \$\$ >$CG/busy/cgroup.procs; exec sleep 20" &
sleep 0.2
KILN_CGROUP=$CG/busy ./kiln doctor --json >/tmp/d7.txt 2>&1
kill $!
grep -q 'holds processes' /tmp/d7.txt && grep -q '"all": *{ *"ok": *false' /tmp/d7.txt &&
    ok "path with processes refused" || { cat /tmp/d7.txt; bad "path with processes refused"; }

# 8. kiln as a user other than root (nobody), alone in a cgroup delegated to
#    it as systemd delegates to a user's service (the directory, cgroup.procs,
#    cgroup.threads and cgroup.subtree_control are its own): it moves into
#    kiln-main, makes the sandbox cgroups beside it, and a process tree over
#    memory.max (tests/vm/tree.py) ends with MEMORY_LIMIT there
mkdir $CG/user /tmp/nobody
chown 65534:65534 /tmp/nobody $CG/user $CG/user/cgroup.procs $CG/user/cgroup.threads \
    $CG/user/cgroup.subtree_control
# (a kiln started again finds its old leaf kiln-main: it goes back in there)
asnobody() {
    d=$CG/user
    test -d $d/kiln-main && d=$d/kiln-main
    sh -c "echo \$\$ >$d/cgroup.procs; HOME=/tmp/nobody TMPDIR=/tmp/nobody \
        KILN_STORE_DIR=/tmp/nobody/store KILN_MEMORY_BYTES=$((256 << 20)) exec \
        /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/env $*"
}
asnobody KILN_CGROUP=require ./kiln doctor --json >/tmp/d8.txt 2>&1
full /tmp/d8.txt $CG/user && test -d $CG/user/kiln-main && clean $CG/user &&
    ok "require, cgroup delegated to a user other than root" ||
    { cat /tmp/d8.txt; bad "require, cgroup delegated to a user other than root"; }
asnobody ./kiln exec --json /work/tree.py >/tmp/d9.txt 2>&1
grep -q '"code": *"MEMORY_LIMIT"' /tmp/d9.txt && ! grep -q 'children failed' /tmp/d9.txt &&
    clean $CG/user &&
    ok "not root: tree over memory.max is MEMORY_LIMIT" ||
    { cat /tmp/d9.txt; bad "not root: tree over memory.max is MEMORY_LIMIT"; }
asnobody KILN_CGROUP=off ./kiln exec --json /work/tree.py >/tmp/d10.txt 2>&1
grep -q 'children failed: 0' /tmp/d10.txt && ok "not root: same tree without the cgroup runs" ||
    { cat /tmp/d10.txt; bad "not root: same tree without the cgroup runs"; }

# 9. executeCode end to end, cold and warm (tests/vm/e2e.py), kiln in the root
/usr/bin/python3 /work/e2e.py || bad "e2e.py ended with an error"
echo "VM END"
poweroff -f
EOF
chmod +x "$R/init"
(cd "$R" && find . | "$BB" cpio -o -H newc 2>/dev/null) | gzip -1 >"$VM/initrd.gz"

timeout 600 qemu-system-x86_64 -m 3072 -smp 2 -nographic -no-reboot -kernel "$KERNEL" \
    -initrd "$VM/initrd.gz" -append "console=ttyS0 quiet panic=-1 rdinit=/init" \
    -fsdev local,id=hostfs,path=/,security_model=none,readonly=on \
    -device virtio-9p-pci,fsdev=hostfs,mount_tag=host \
    </dev/null >"$VM/console.log" 2>&1 || true
tr -d '\r' <"$VM/console.log" | grep -E '^(VM |PASS|FAIL|SKIP|[0-9]+ passed)' || true
pass=$(tr -d '\r' <"$VM/console.log" | grep -c '^VM PASS' || true)
fail=$(tr -d '\r' <"$VM/console.log" | grep -c '^VM FAIL' || true)
if ! tr -d '\r' <"$VM/console.log" | grep -q '^VM END'; then
    echo "tests/vm: the VM did not finish (see $VM/console.log)"
    fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
test "$fail" = 0
