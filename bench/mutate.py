#!/usr/bin/env python3
"""bench/mutate.py CORPUS_DIR apply|revert [--change 0.01] [--add 0.005] [--seed N]

The daily change of a corpus made by bench/corpus.sh (CORPUS_DIR holds MANIFEST and data/):
apply changes 1 % of the files (4 KiB, or the whole file if smaller, overwritten at a seeded
offset with seeded bytes; mtime one day later) and adds 0.5 % new files (seeded sizes 64 B-16 KiB,
in the directories of seeded existing files). Which files, and every byte, depend only on the
MANIFEST and the seed. The originals of the changed files are kept in CORPUS_DIR/pristine/;
revert puts them back (same inode, original mtime) and removes the added files, so the corpus
is again the generated one. apply on an applied corpus is refused (revert first)."""
import argparse, os, random, shutil, sys

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("action", choices=["apply", "revert"])
ap.add_argument("--change", type=float, default=0.01)
ap.add_argument("--add", type=float, default=0.005)
ap.add_argument("--seed", type=int, default=20241201)
a = ap.parse_args()

data, pristine = os.path.join(a.dir, "data"), os.path.join(a.dir, "pristine")
state = os.path.join(a.dir, "MUTATED")
files = [l.split(" ", 2)[2] for l in open(os.path.join(a.dir, "MANIFEST")).read().splitlines()[5:]]
r = random.Random(a.seed)
changed = r.sample(files, max(1, round(len(files) * a.change)))
added = [(os.path.join(os.path.dirname(p), f"added-{i:05d}.txt"), r.randint(64, 16 * 1024))
         for i, p in enumerate(r.sample(files, max(1, round(len(files) * a.add))))]
T0, T1 = 1700000000, 1700000000 + 86400

if a.action == "apply":
    if os.path.exists(state):
        sys.exit(f"mutate: {a.dir} is already mutated (revert first)")
    os.makedirs(pristine, exist_ok=True)
    for i, p in enumerate(changed):
        full = os.path.join(data, p)
        shutil.copyfile(full, os.path.join(pristine, f"{i:06d}"))
        size = os.path.getsize(full)
        n = min(size, 4096)
        fr = random.Random(f"{a.seed}:change:{p}")
        off = fr.randint(0, size - n)
        with open(full, "r+b") as f:
            f.seek(off)
            f.write(fr.randbytes(n))
        os.utime(full, (T1, T1))
    for p, size in added:
        full = os.path.join(data, p)
        with open(full, "wb") as f:
            f.write(random.Random(f"{a.seed}:add:{p}").randbytes(size))
        os.utime(full, (T1, T1))
    open(state, "w").write(f"changed {len(changed)} added {len(added)}\n")
    print(f"mutate: changed {len(changed)}, added {len(added)} of {len(files)} files")
else:
    if not os.path.exists(state):
        sys.exit(0)
    for i, p in enumerate(changed):
        full = os.path.join(data, p)
        with open(os.path.join(pristine, f"{i:06d}"), "rb") as src, open(full, "r+b") as f:
            f.write(src.read())
            f.truncate()
        os.utime(full, (T0, T0))
    for p, _ in added:
        try:
            os.unlink(os.path.join(data, p))
        except FileNotFoundError:
            pass
    for d in {os.path.dirname(os.path.join(data, p)) for p, _ in added}:
        os.utime(d, (T0, T0))
    shutil.rmtree(pristine, ignore_errors=True)
    os.unlink(state)
