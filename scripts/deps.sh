#!/usr/bin/env bash
# The one place that knows what Grafo's tests need besides Go. `make test`
# runs it first (through `make deps`); so does CI, through `make test`.
#
# For each dependency it checks whether it is present (quick, no network);
# what is missing it installs with the system's package manager when it can
# (running as root, or `sudo -n` works), and otherwise it stops at once with
# one line naming the packages and the command to run.
#
#   scripts/deps.sh           check, install what is missing
#   scripts/deps.sh --check   check only; exit 1 naming what is missing
set -u

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

# name | Debian package | how to tell it is present | what needs it
deps=(
	"chromium|chromium|command -v chromium|the explorer's browser tests (web/)"
	"jedi|python3-jedi|/usr/bin/python3 -c 'import jedi' |the Python frontend's oracle test (ingest/python)"
	"nvim|neovim|command -v nvim|the editor test (lsp/)"
	"curl|curl|command -v curl|the README tour test (cmd/grafo/readme_test.go), which runs the README's curl commands"
)

missing_pkgs=()
missing_why=()
for d in "${deps[@]}"; do
	IFS='|' read -r name pkg probe why <<<"$d"
	if ! eval "$probe" >/dev/null 2>&1; then
		missing_pkgs+=("$pkg")
		missing_why+=("$name for $why")
	fi
done

[ ${#missing_pkgs[@]} -eq 0 ] && exit 0

list="${missing_pkgs[*]}"
say() { printf 'deps: %s\n' "$*" >&2; }

if [ "$check_only" = 1 ]; then
	say "missing ${list}; install with: sudo apt-get install -y ${list}"
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	say "missing ${list} (Debian package names) and no apt-get here: install the equivalents with your package manager, then rerun make test"
	exit 1
fi

if [ "$(id -u)" = 0 ]; then
	as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	as_root=(sudo -n)
else
	say "missing ${list}; install with: sudo apt-get install -y ${list}"
	exit 1
fi

for w in "${missing_why[@]}"; do say "installing $w"; done
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get update -qq >/dev/null ||
	! "${as_root[@]}" apt-get install -y -qq "${missing_pkgs[@]}" >/dev/null; then
	say "apt-get could not install ${list}; install with: sudo apt-get install -y ${list}"
	exit 1
fi

# Installed is not enough: the probes must pass now.
for d in "${deps[@]}"; do
	IFS='|' read -r name pkg probe why <<<"$d"
	if ! eval "$probe" >/dev/null 2>&1; then
		say "$pkg was installed but $name is still not usable ($probe failed)"
		exit 1
	fi
done
say "installed ${list}"
