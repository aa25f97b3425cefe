# The shell tests' one set of check helpers (sourced, bash): `ok DESC`, `bad DESC [DETAIL]`
# (DETAIL's first 40 lines, indented), `die DESC [DETAIL]` (a failure that ends the test),
# `expect_eq DESC WANT GOT`, `wait_for SECONDS CMD...` (polls CMD every 0.2 s until it
# succeeds; 1 when the time is up) and `summary` (the last line, "NAME: P passed, F failed";
# its status is the test's: 0 only without a failure). Set CHECKS_NAME before sourcing.
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() {
  FAIL=$((FAIL + 1))
  echo "FAIL - $1"
  [[ -n ${2:-} ]] && printf '%s\n' "$2" | head -n 40 | sed 's/^/       /'
  return 0
}
die() { bad "$1" "${2:-}"; echo "$CHECKS_NAME: $PASS passed, $FAIL failed (aborted)"; exit 1; }
expect_eq() { if [[ $3 == "$2" ]]; then ok "$1"; else bad "$1" "want '$2', got '$3'"; fi; }
wait_for() {
  local t=$1 i
  shift
  for ((i = 0; i < t * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
summary() { echo "$CHECKS_NAME: $PASS passed, $FAIL failed"; ((FAIL == 0)); }
