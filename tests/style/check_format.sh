#!/usr/bin/env bash
# Fails if any tracked C/C++ file differs from clang-format's output with the
# repository's .clang-format, naming each such file.
set -euo pipefail
root=${1:?usage: check_format.sh REPO_ROOT}
cd "$root"
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not clang-formatted: $f (run: clang-format -i $f)"
    bad=1
  fi
done < <(git ls-files '*.cpp' '*.h' '*.c')
exit "$bad"
