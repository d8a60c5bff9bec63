#!/usr/bin/env bash
# Checks what the README promises of the Makefile (run by `make check-make`,
# part of `make test`):
#   - `make test` installs Dendrite before the end-to-end tests when it is
#     missing, and `make dendrite` leaves an installed one alone;
#   - without Dendrite the end-to-end package fails instead of printing ok,
#     unless MSN_E2E_SKIP=1, which says loudly that it skipped;
#   - `make build` writes every command to bin/, git ignores the build
#     outputs, and `make clean` removes them;
#   - `make demo` comes up and exits 0 after Ctrl-C typed into a terminal
#     (under `go run`, make reported "Error 1"), keeping its logs.
set -euo pipefail

cd "$(dirname "$0")/.."
GO="${GO:-go}"
tmp="$(mktemp -d /tmp/msn-check-make.XXXXXX)"
demo_pid=""
cleanup() {
	if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "check-make: FAIL: $*" >&2; exit 1; }
ok() { echo "check-make: ok: $*"; }

# --- Dendrite is a prerequisite of the test run.
plan="$(make -n unit DENDRITE_BIN="$tmp/no-such-dendrite")"
install_line="$(grep -n 'go install github.com/matrix-org/dendrite/cmd/dendrite@' <<<"$plan" | head -n 1 | cut -d: -f1)"
test_line="$(grep -n 'test -race' <<<"$plan" | head -n 1 | cut -d: -f1)"
[ -n "$install_line" ] || fail "make unit does not install a missing Dendrite:"$'\n'"$plan"
[ -n "$test_line" ] && [ "$install_line" -lt "$test_line" ] || fail "make unit runs the tests before installing Dendrite"
grep -qE '^test:.* unit' Makefile || fail "make test does not run the unit target"
ok "make test installs a missing Dendrite before the tests"

printf '#!/bin/sh\n' >"$tmp/dendrite" && chmod +x "$tmp/dendrite"
out="$(make --no-print-directory dendrite DENDRITE_BIN="$tmp/dendrite")"
grep -q "go install" <<<"$out" && fail "make dendrite reinstalls an installed Dendrite: $out"
ok "make dendrite keeps an installed Dendrite"

# --- A run without Dendrite fails, or says loudly that it skipped.
if out="$(env -u CI -u MSN_E2E_SKIP DENDRITE_BIN="$tmp/no-such-dendrite" \
	"$GO" test -tags goolm -count=1 -run '^$' ./e2e/ 2>&1)"; then
	fail "the e2e package passed without Dendrite:"$'\n'"$out"
fi
grep -q "dendrite binary not found" <<<"$out" || fail "no clear error without Dendrite:"$'\n'"$out"
ok "without Dendrite the end-to-end tests fail"
out="$(env -u CI MSN_E2E_SKIP=1 DENDRITE_BIN="$tmp/no-such-dendrite" \
	"$GO" test -tags goolm -count=1 -v -run '^$' ./e2e/ 2>&1)" || fail "MSN_E2E_SKIP=1 run failed:"$'\n'"$out"
grep -q "END-TO-END TESTS SKIPPED" <<<"$out" || fail "a skipped e2e run does not say so:"$'\n'"$out"
ok "MSN_E2E_SKIP=1 skips with a loud line"

# --- make build, .gitignore, make clean.
commands=$(cd cmd && ls -d -- */ | tr -d /)
make --no-print-directory build >/dev/null
for c in $commands; do
	[ -x "bin/$c" ] || fail "make build did not write bin/$c"
	git check-ignore -q "bin/$c" || fail "bin/$c is not ignored by git"
	git check-ignore -q "$c" || fail "./$c (go build ./cmd/$c) is not ignored by git"
done
[ -z "$(git status --porcelain -- bin)" ] || fail "git sees build outputs: $(git status --porcelain -- bin)"
ok "make build writes bin/{$(echo $commands | tr ' ' ,)}, all ignored by git"
made=()
for c in $commands; do
	if [ ! -e "$c" ]; then : >"$c"; made+=("$c"); fi
done
make --no-print-directory clean >/dev/null
[ ! -e bin ] || fail "make clean left bin/"
for c in "${made[@]}"; do
	[ ! -e "$c" ] || fail "make clean left ./$c"
done
ok "make clean removes bin/ and the commands go build writes"

# --- make demo: Ctrl-C in a terminal stops it with exit status 0.
command -v script >/dev/null || fail "script (util-linux/bsdutils) is needed to type Ctrl-C into make demo"
mkfifo "$tmp/keys"
script -qec "make --no-print-directory demo DEMO_ARGS='-dir $tmp/demo -hs-port 0'" /dev/null \
	<"$tmp/keys" >"$tmp/demo.out" 2>&1 &
demo_pid=$!
exec 4>"$tmp/keys"
for _ in $(seq 1 600); do
	grep -q "Press Ctrl-C" "$tmp/demo.out" && break
	kill -0 "$demo_pid" 2>/dev/null || break
	sleep 0.5
done
grep -q "Press Ctrl-C" "$tmp/demo.out" || fail "make demo did not come up:"$'\n'"$(cat "$tmp/demo.out")"
grep -q "start-chat" "$tmp/demo.out" || fail "the demo does not say how to start a chat with a contact"
printf '\003' >&4
status=0
wait "$demo_pid" || status=$?
demo_pid=""
exec 4>&-
[ "$status" -eq 0 ] || fail "make demo exited $status after Ctrl-C:"$'\n'"$(tail -n 20 "$tmp/demo.out")"
grep -q "Error" "$tmp/demo.out" && fail "make demo reported an error after Ctrl-C:"$'\n'"$(tail -n 20 "$tmp/demo.out")"
[ -s "$tmp/demo/bridge/bridge.log" ] || fail "the demo's bridge log is gone after it stopped"
ok "make demo exits 0 on Ctrl-C and keeps its logs"
