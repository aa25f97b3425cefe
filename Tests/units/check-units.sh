#!/bin/bash
# Static checks of units/ and policy/ (no running systemd needed):
#   - `systemd-analyze verify --man=no` prints nothing for every unit (unknown keys are only
#     warnings with exit status 0, so any output counts as a failure);
#   - `systemd-analyze security --offline=true` exposure <= threshold for
#     run-borg-backup.service and borgpull-server@.service;
#   - policy/sudoers/borgpull parses with `visudo -cf` and holds exactly the one rule;
#   - the polkit rule names exactly the unit, the verb and the user.
# Units are verified inside a scratch root that holds copies of the host's system
# units and stub executables, so that missing binaries do not mask real errors.
# Env: BORGPULL_MAX_EXPOSURE (default 1.5). Exits non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CHECKS_NAME=check-units
source "$REPO/Tests/lib/checks.sh"
MAX=${BORGPULL_MAX_EXPOSURE:-1.5}

command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (apt-get install systemd)" >&2; exit 2; }

R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R/usr/bin" "$R/etc/systemd/system" "$R/usr/lib/systemd" "$R/etc/borgpull-server"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/"
for b in borgpull-client borgpull-server; do
  printf '#!/bin/sh\nexit 0\n' > "$R/usr/bin/$b"
  chmod 0755 "$R/usr/bin/$b"
done
cp "$REPO"/units/*.service "$REPO"/units/*.timer "$R/etc/systemd/system/"

for u in borg-backup-create-directory.service run-borg-backup.service \
         borgpull-server@clientA.service borgpull-server@clientA.timer \
         borgpull-compact@clientA.service borgpull-compact@clientA.timer \
         borgpull-check@clientA.service borgpull-check@clientA.timer borgpull-notify@clientA.service; do
  out=$(systemd-analyze verify --man=no --root="$R" "$u" 2>&1) && rc=0 || rc=$?
  if (( rc == 0 )) && [[ -z $out ]]; then ok "verify $u"; else bad "verify $u" "rc=$rc $out"; fi
done

exposure() {
  systemd-analyze security --offline=true --root="$R" "$1" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
for u in run-borg-backup.service borgpull-server@clientA.service borgpull-compact@clientA.service \
         borgpull-check@clientA.service borgpull-notify@clientA.service; do
  e=$(exposure "$u")
  if [[ -n $e ]] && awk -v e="$e" -v m="$MAX" 'BEGIN { exit !(e <= m) }'; then
    ok "exposure $u = $e (<= $MAX)"
  else
    bad "exposure $u = ${e:-?} (<= $MAX)" "$(systemd-analyze security --offline=true --root="$R" "$u" 2>&1 | grep '✗')"
  fi
done

if command -v visudo >/dev/null; then
  if out=$(visudo -cf "$REPO/policy/sudoers/borgpull" 2>&1); then ok "visudo -cf policy/sudoers/borgpull"; else bad "visudo -cf policy/sudoers/borgpull" "$out"; fi
else
  bad "visudo -cf policy/sudoers/borgpull" "visudo missing (apt-get install sudo)"
fi
rules=$(grep -v '^[[:space:]]*#' "$REPO/policy/sudoers/borgpull" | grep -v '^[[:space:]]*$')
if [[ $rules == 'borgpull ALL=(root) NOPASSWD: /usr/bin/systemctl start run-borg-backup.service' ]]; then
  ok "sudoers holds exactly the one rule"
else
  bad "sudoers holds exactly the one rule" "$rules"
fi

p="$REPO/policy/polkit/50-borgpull.rules"
if grep -q '"org.freedesktop.systemd1.manage-units"' "$p" &&
   grep -q 'action.lookup("unit") === "run-borg-backup.service"' "$p" &&
   grep -q 'action.lookup("verb") === "start"' "$p" &&
   grep -q 'subject.user !== "borgpull"' "$p" &&
   [[ $(grep -c 'polkit.Result.YES' "$p") == 1 ]]; then
  ok "polkit rule names the action, unit, verb and user, one YES"
else
  bad "polkit rule names the action, unit, verb and user, one YES"
fi

summary
