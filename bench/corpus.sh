#!/bin/bash
# bench/corpus.sh DIR [SIZE] [WORKLOAD]
#
# Generates a deterministic benchmark corpus under DIR/data. WORKLOAD (default mixed):
#   mixed  SIZE = MB (default 200):
#     - ~10% of the bytes in many small files   (1-16 KiB)
#     - ~40% of the bytes in medium files        (64 KiB-1 MiB)
#     - ~50% of the bytes in a few large files   (20-50 MiB, smaller if SIZE_MB is small)
#   files  SIZE = number of files (default 50000), a deep tree (2-5 directory levels below tree/, fan-out 4, ~1,360 directories):
#     90% of the files 64 B-4 KiB, 9.5% 4-32 KiB, 0.5% 32-256 KiB (about 4 KiB on average)
# Every size class is half text-like (compressible, seeded word salad) and half
# incompressible (seeded PRNG bytes). Same WORKLOAD, SIZE and seed => byte-identical corpus.
#
# DIR/MANIFEST lists generator version, seed and every file with its size and kind. If
# DIR/MANIFEST already equals the manifest this run would write (and every file has the
# listed size) nothing is regenerated.
set -euo pipefail

usage() { echo "usage: $0 DIR [SIZE] [mixed|files]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 3 ] || usage
DIR=$1
WORKLOAD=${3:-mixed}
case $WORKLOAD in mixed) SIZE_MB=${2:-200} ;; files) SIZE_MB=${2:-50000} ;; *) usage ;; esac
case $SIZE_MB in ''|*[!0-9]*) usage ;; esac
[ "$SIZE_MB" -ge 1 ] || usage
SEED=${BENCH_CORPUS_SEED:-20240611}

mkdir -p "$DIR"
exec python3 - "$DIR" "$SIZE_MB" "$SEED" "$WORKLOAD" <<'PY'
import os, random, sys, time

KiB, MiB = 1024, 1024 * 1024
out_dir, size_mb, seed, workload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
GEN_VERSION = "borgpull-bench-corpus v1" if workload == "mixed" else f"borgpull-bench-corpus {workload} v1"
total = size_mb * MiB

def plan_files():
    """The files workload: size_mb is the number of files; a deep tree, mostly small files."""
    r = random.Random(seed)
    files = []
    for n in range(size_mb):
        depth = r.randint(2, 5)
        dirs = "/".join(f"d{r.randint(0, 3)}" for _ in range(depth))
        x = r.random()
        size = r.randint(64, 4 * KiB) if x < 0.90 else r.randint(4 * KiB, 32 * KiB) if x < 0.995 else r.randint(32 * KiB, 256 * KiB)
        kind = "text" if r.random() < 0.5 else "random"
        files.append((f"tree/{dirs}/f{n:06d}.{'txt' if kind == 'text' else 'bin'}", size, kind))
    return files

def plan():
    if workload == "files":
        return plan_files()
    """Deterministic list of (relpath, size, kind). Uses its own seeded PRNG."""
    r = random.Random(seed)
    files = []
    def fill(cls, budget, lo, hi, per_dir):
        n = 0
        while budget > 0:
            size = min(r.randint(lo, hi), budget)
            kind = "text" if n % 2 == 0 else "random"
            files.append((f"{cls}/d{n // per_dir:03d}/{cls}-{n:05d}.{'txt' if kind == 'text' else 'bin'}", size, kind))
            budget -= size
            n += 1
    small, medium = total // 10, total * 4 // 10
    large = total - small - medium
    fill("small", small, 1 * KiB, 16 * KiB, 200)
    fill("medium", medium, 64 * KiB, 1 * MiB, 50)
    lo, hi = (20 * MiB, 50 * MiB) if large >= 40 * MiB else (max(1, large // 4), max(1, large // 2))
    fill("large", large, lo, hi, 10)
    return files

files = plan()
manifest = [GEN_VERSION, f"seed {seed}", f"size_mb {size_mb}" if workload == "mixed" else f"size {size_mb}", f"files {len(files)}",
            f"bytes {sum(s for _, s, _ in files)}"]
manifest += [f"{size} {kind} {path}" for path, size, kind in files]
manifest_text = "\n".join(manifest) + "\n"
mpath = os.path.join(out_dir, "MANIFEST")
data = os.path.join(out_dir, "data")

def intact():
    try:
        with open(mpath) as f:
            if f.read() != manifest_text:
                return False
    except FileNotFoundError:
        return False
    for path, size, _ in files:
        try:
            if os.path.getsize(os.path.join(data, path)) != size:
                return False
        except OSError:
            return False
    return True

if intact():
    print(f"corpus: {out_dir} up to date ({len(files)} files, {sum(s for _, s, _ in files) >> 20} MB)")
    sys.exit(0)

t0 = time.time()
if os.path.exists(mpath):
    os.unlink(mpath)
import shutil
shutil.rmtree(data, ignore_errors=True)

# Word salad: a fixed vocabulary of pseudo-words, lines of random length. lz4 gets roughly 2x.
vr = random.Random(seed ^ 0x5EED)
alphabet = "etaoinshrdlcumwfgypbvkjxqz"
vocab = ["".join(vr.choice(alphabet) for _ in range(vr.randint(2, 11))) for _ in range(4000)]
vocab += ["the", "and", "of", "to", "in", "is", "for", "on", "with", "as", "\n"] * 40

def text_bytes(r, n):
    parts, have = [], 0
    while have < n:
        words = r.choices(vocab, k=4096)
        chunk = " ".join(words).encode()
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)[:n]

for i, (path, size, kind) in enumerate(files):
    r = random.Random(f"{seed}:{path}")  # per-file stream: independent of generation order
    full = os.path.join(data, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 8 * MiB)
            f.write(text_bytes(r, n) if kind == "text" else r.randbytes(n))
            left -= n
    os.utime(full, (1700000000, 1700000000))  # fixed mtime: metadata is deterministic too
for root, dirs, _ in os.walk(data):
    for d in dirs:
        os.utime(os.path.join(root, d), (1700000000, 1700000000))
os.chmod(out_dir, 0o755)
with open(mpath + ".tmp", "w") as f:
    f.write(manifest_text)
os.rename(mpath + ".tmp", mpath)
print(f"corpus: generated {out_dir} ({len(files)} files, {sum(s for _, s, _ in files) >> 20} MB) in {time.time() - t0:.1f}s")
PY
