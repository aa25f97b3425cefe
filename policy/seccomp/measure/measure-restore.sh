#!/bin/bash
# Reproduce the measurement behind the restore sandbox (run as root): which capabilities a root
# `borg extract` needs to keep owners, groups, modes, mtimes, links, xattrs and ACLs, and which
# syscalls it makes (policy/seccomp/borg-restore.policy).
# 1. Builds a tree with files of three owners, a root-only 0600 file, a 0700 directory of another
#    user, a symlink, a hard link pair, a fifo, a character device, a user xattr, a POSIX ACL and
#    a file capability (security.capability); archives it into a local repository.
# 2. Extracts it as uid 0 with SECBIT_NOROOT, an empty bounding set but for the candidate set
#    (the restore sandbox's shape), once with the full candidate set and once per capability
#    left out, and reports what borg warned about and which items differ (stat, xattr, ACL).
# 3. Traces the full-set extract with `strace -f` and prints the syscalls it attempted.
# Usage: measure-restore.sh [OUTDIR]   (default /tmp/bp-measure-restore)
set -euo pipefail
out=${1:-/tmp/bp-measure-restore}
caps=${CAPS:-chown,dac_override,dac_read_search,fowner,fsetid,mknod,setfcap}
rm -rf "$out"; mkdir -p "$out"/{src,base,traces}
for u in bpmeasure-a bpmeasure-b; do id -u $u >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin $u; done
s=$out/src
echo root > "$s/root.txt"
echo a > "$s/a.txt"; chown bpmeasure-a: "$s/a.txt"; chmod 0640 "$s/a.txt"
echo b > "$s/b.txt"; chown bpmeasure-b:bpmeasure-a "$s/b.txt"; chmod 0604 "$s/b.txt"
echo secret > "$s/root-only"; chmod 0600 "$s/root-only"
mkdir -m 0700 "$s/private"; echo p > "$s/private/p.txt"; chown -R bpmeasure-b: "$s/private"; chmod 0600 "$s/private/p.txt"
ln -s a.txt "$s/link"; chown -h bpmeasure-a: "$s/link"
echo h > "$s/hard1"; ln "$s/hard1" "$s/hard2"; chown bpmeasure-a: "$s/hard1"
mkfifo "$s/fifo"; mknod "$s/null" c 1 3
# a user xattr and a POSIX ACL (user:bpmeasure-b:r--), with Python (no attr/acl tools needed)
python3 - "$s/a.txt" "$(id -u bpmeasure-b)" <<'PY'
import os, struct, sys
os.setxattr(sys.argv[1], "user.note", b"hello")
acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in
      [(1, 6, 0xFFFFFFFF), (2, 4, int(sys.argv[2])), (4, 4, 0xFFFFFFFF), (0x10, 4, 0xFFFFFFFF), (0x20, 4, 0xFFFFFFFF)])
os.setxattr(sys.argv[1], "system.posix_acl_access", acl)
PY
cp /bin/true "$s/capbin"; setcap cap_net_bind_service+ep "$s/capbin"
touch -d '2001-02-03 04:05:06' "$s"/*.txt
export BORG_PASSPHRASE=measure BORG_BASE_DIR=$out/base TMPDIR=$out/base BORG_HOST_ID=measure@1
borg init -e repokey "$out/repo"
(cd "$s" && borg create "$out/repo::a" .)
# every item: path, uid, gid, mode, link count, mtime (ns), xattrs (ACLs are system.posix_acl_* xattrs)
snapshot() { python3 - "$1" <<'PY'
import os, sys
root = sys.argv[1]
for d, dirs, files in sorted(os.walk(root)):
    for n in sorted(dirs + files):
        p = os.path.join(d, n); st = os.lstat(p)
        x = {} if os.path.islink(p) else {k: os.getxattr(p, k, follow_symlinks=False).hex() for k in sorted(os.listxattr(p, follow_symlinks=False))}
        print(os.path.relpath(p, root), st.st_uid, st.st_gid, oct(st.st_mode), st.st_nlink, st.st_mtime_ns, x)
PY
}
snapshot "$s" > "$out/expected.txt"
extract() { # extract DIR CAPSET [strace]
  mkdir -p "$1"
  local cmd=(setpriv --securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked --inh-caps=-all,+${2//,/,+}
             --ambient-caps=-all,+${2//,/,+} --bounding-set=-all,+${2//,/,+} --no-new-privs)
  [ -n "${3:-}" ] && cmd+=(strace -f -qq -e trace=all -o "$out/traces/extract.trace")
  (cd "$1" && "${cmd[@]}" borg extract "$out/repo::a") 2>&1 | sed 's/^/    borg: /' || true
}
echo "== full set: $caps"
extract "$out/full" "$caps" trace
snapshot "$out/full" | diff "$out/expected.txt" - && echo "    identical"
for c in ${caps//,/ }; do
  rest=$(echo ",$caps," | sed "s/,$c,/,/; s/^,//; s/,$//")
  echo "== without $c"
  extract "$out/no-$c" "$rest"
  snapshot "$out/no-$c" | diff "$out/expected.txt" - | sed 's/^/    /' || true
done
echo "== syscalls of the full-set extract"
sed -E 's/^[0-9]+ +//; s/^<\.\.\. ([a-z0-9_]+) resumed>.*/\1/; s/^([a-z0-9_]+)\(.*/\1/' "$out"/traces/*.trace \
  | grep -E '^[a-z0-9_]+$' | grep -vE '^(exited|killed)$' | sort -u | tee "$out/syscalls.txt" | tr '\n' ' '; echo
