#!/bin/bash
# The Debian packages of `make deb` (dist/*.deb), looked at as an admin would:
#   - lintian reports no error (warnings are printed);
#   - every man page renders with `man -l`, and `mandoc -Tlint -W warning` and `groff -ww`
#     say nothing about it; every option of a command's --help is in its man page;
#   - the bash completions load (`source FILE; complete -p CMD`), zsh and fish parse theirs;
#   - every binary's --version is the package's version.
# The packages are unpacked into a scratch directory (dpkg-deb -x); nothing is installed.
# Needs lintian, mandoc, man-db, groff-base, bash-completion's bash, zsh, fish.
# Exits non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CHECKS_NAME=package-test
source "$REPO/Tests/lib/checks.sh"

X=$(mktemp -d /tmp/borgpull-deb.XXXXXX)
trap 'rm -rf "$X"' EXIT

DEBS=()
for p in borgpull-client borgpull-server borgpull-check; do
  f=$(compgen -G "$REPO/dist/${p}_*.deb" | head -n 1) || { echo "package-test: dist/${p}_*.deb missing (fix: make deb)" >&2; exit 1; }
  DEBS+=("$f")
done

T0=$SECONDS
out=$(lintian --no-tag-display-limit "${DEBS[@]}" 2>&1) || true
errors=$(grep '^E: ' <<<"$out" || true)
if [[ -z $errors ]]; then ok "lintian: no errors ($(grep -c '^W: ' <<<"$out" || true) warnings, $((SECONDS - T0)) s)"; else bad "lintian: no errors" "$errors"; fi
grep '^W: ' <<<"$out" | sed 's/^/# /' || true

for f in "${DEBS[@]}"; do dpkg-deb -x "$f" "$X/root"; done
R=$X/root

for page in "$R"/usr/share/man/man*/*.gz; do
  name=$(basename "$page" .gz)
  gunzip -c "$page" > "$X/$name"
  text=$(MANWIDTH=80 man -l "$X/$name" 2>"$X/man.err") && rc=0 || rc=$?
  if [[ $rc == 0 && ! -s $X/man.err ]] && grep -q '^NAME' <<<"$text" && grep -q "${name%.*}" <<<"$text"; then
    ok "man -l renders $name"
  else
    bad "man -l renders $name (rc $rc)" "$(cat "$X/man.err")"
  fi
  lint=$(mandoc -Tlint -W warning "$X/$name" 2>&1 | grep -v 'mandoc.db' || true)
  [[ -z $lint ]] && ok "mandoc -Tlint -W warning: $name" || bad "mandoc -Tlint -W warning: $name" "$lint"
  lint=$(groff -ww -mandoc -Tutf8 -z "$X/$name" 2>&1 || true)
  [[ -z $lint ]] && ok "groff -ww: $name" || bad "groff -ww: $name" "$lint"
done

for b in borgpull-client borgpull-server borgpull-check; do
  page=$(MANWIDTH=200 man -l "$X/$b.8" 2>/dev/null | sed 's/‐//g')
  # Every displayed long option of the command and its subcommands, from the parser itself.
  options=$("$R/usr/bin/$b" --experimental-dump-help | python3 -c '
import json, sys
def walk(c):
    for a in c.get("arguments", []):
        if a.get("shouldDisplay", True):
            for n in a.get("names", []):
                if n["kind"] == "long": print("--" + n["name"])
    for s in c.get("subcommands", []):
        if s.get("shouldDisplay", True): walk(s)
walk(json.load(sys.stdin)["command"])' | sort -u)
  missing=$(while read -r o; do grep -q -- "$o" <<<"$page" || printf '%s ' "$o"; done <<<"$options")
  [[ -z $missing ]] && ok "$b(8) has all $(wc -l <<<"$options") options of its parser (subcommands too)" || bad "$b(8) has every option of its parser" "missing: $missing"

  version=$(dpkg-deb -f "$(printf '%s\n' "${DEBS[@]}" | grep "/${b}_")" Version)
  [[ $("$R/usr/bin/$b" --version) == "$version" ]] && ok "$b --version is $version" || bad "$b --version is $version" "$("$R/usr/bin/$b" --version 2>&1)"

  c=$R/usr/share/bash-completion/completions/$b
  if out=$(bash -c "source '$c' && complete -p $b" 2>&1); then ok "bash: source completion; complete -p $b"; else bad "bash: source completion; complete -p $b" "$out"; fi
  if out=$(zsh -n "$R/usr/share/zsh/vendor-completions/_$b" 2>&1); then ok "zsh -n _$b"; else bad "zsh -n _$b" "$out"; fi
  if out=$(fish --no-execute "$R/usr/share/fish/vendor_completions.d/$b.fish" 2>&1); then ok "fish --no-execute $b.fish"; else bad "fish --no-execute $b.fish" "$out"; fi
done

summary
