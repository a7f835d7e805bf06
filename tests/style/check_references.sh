#!/usr/bin/env bash
# Fails if a tracked file points at something the product does not ship:
# the workshop papers it was built from (a "shared" directory beside the
# checkout, their "pitfall N" / "habit N" / "spec section N" numbering) or
# an absolute path of a build machine. The product's contract is
# docs/spec.md; cite "docs/spec.md §N" or nothing.
set -euo pipefail
root=${1:?usage: check_references.sh REPO_ROOT}
cd "$root"
pattern='\.\./shared|shared/spec|xen-notes|style\.md|[Pp]itfalls? [0-9]|[Hh]abits? [0-9]|[Ss]pec sections? [0-9]|(^|[^[:alnum:]_.-])/(work|home|root)/'
self=tests/style/check_references.sh
if hits=$(git grep -nIE "$pattern" -- . ":!$self"); then
  echo "references to material the product does not ship (use docs/spec.md §N):"
  printf '%s\n' "$hits"
  exit 1
fi
