#!/usr/bin/env bash
# make security: static security checks of the repository.
#   1. ruff     the project's lint rules (including flake8-bandit "S") with the project's own ruff (.venv)
#   2. bandit   flows pipelines serving; medium and high findings fail (-ll)
#   3. checkov  terraform/ and every Dockerfile; 0 failed checks, skips only inline and with a reason
#   4. pip-audit the pinned set (pip freeze of .venv) against PyPI's vulnerability data, when reachable
#   5. secrets  detect-secrets over every file git tracks (or would track), plus a focused pattern search
# The scanners live in their own venv (.venv-security, pins in .ci/requirements-security.txt) because
# their dependencies conflict with the project's pins. Full outputs go to reports/security/.
# Exit status: non-zero when any check finds something. Idempotent; reuses the venv when its pins are unchanged.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
SEC_VENV="$ROOT/.venv-security"
SEC_REQS="$ROOT/.ci/requirements-security.txt"
PROJECT_VENV="$ROOT/.venv"
REPORTS="$ROOT/reports/security"
PYTHON="${PYTHON:-python3.11}"
CODE_DIRS=(flows pipelines serving)

mkdir -p "$REPORTS"
declare -a SUMMARY=()
failed=0

record() { # record NAME STATUS DETAIL
    SUMMARY+=("$(printf '%-10s %-5s %s' "$1" "$2" "$3")")
    if [ "$2" = "FAIL" ]; then failed=1; fi
}

section() { printf '\n==> %s\n' "$*"; }

# --- the scanners' venv ---------------------------------------------------------------------------------
stamp="$SEC_VENV/.requirements.sha256"
want=$(sha256sum "$SEC_REQS" | cut -d' ' -f1)
if [ ! -x "$SEC_VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    section "installing the scanners into .venv-security (once)"
    rm -rf "$SEC_VENV"
    "$PYTHON" -m venv "$SEC_VENV" \
        && "$SEC_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$SEC_REQS" \
        && echo "$want" > "$stamp" \
        || { echo "security: could not install the scanners" >&2; exit 2; }
fi
export PATH="$SEC_VENV/bin:$PATH"

# Files of the repository as git sees them (tracked, plus untracked files that are not ignored).
git ls-files -z --cached --others --exclude-standard | xargs -0 -r -n1 sh -c 'test -f "$0" && printf "%s\n" "$0"' \
    | sort -u > "$REPORTS/files.txt"
mapfile -t DOCKERFILES < <(grep -E '(^|/)Dockerfile(\.[A-Za-z0-9_-]+)?$' "$REPORTS/files.txt")
mapfile -t PY_DIRS < <(for d in "${CODE_DIRS[@]}"; do [ -d "$d" ] && echo "$d"; done)

# --- 1. ruff ---------------------------------------------------------------------------------------------
section "ruff check (project rules, including S = flake8-bandit)"
if [ -x "$PROJECT_VENV/bin/ruff" ]; then
    if "$PROJECT_VENV/bin/ruff" check --no-cache --output-format concise . > "$REPORTS/ruff.txt" 2>&1; then
        record ruff PASS "no findings"
    else
        cat "$REPORTS/ruff.txt"
        record ruff FAIL "$(grep -cE ':[0-9]+:[0-9]+: ' "$REPORTS/ruff.txt") finding(s), see reports/security/ruff.txt"
    fi
else
    record ruff FAIL ".venv/bin/ruff not found: run make install first"
fi

# --- 2. bandit -------------------------------------------------------------------------------------------
section "bandit -ll on ${PY_DIRS[*]:-<no code yet>}"
if [ ${#PY_DIRS[@]} -eq 0 ]; then
    record bandit PASS "no Python code to scan"
elif bandit -r "${PY_DIRS[@]}" -ll -q -f txt -o "$REPORTS/bandit.txt" 2>"$REPORTS/bandit.err"; then
    record bandit PASS "no medium/high findings"
else
    cat "$REPORTS/bandit.txt" "$REPORTS/bandit.err"
    record bandit FAIL "$(grep -c '^>> Issue' "$REPORTS/bandit.txt") medium/high finding(s), see reports/security/bandit.txt"
fi

# --- 3. checkov ------------------------------------------------------------------------------------------
# --skip-download: no call to the Prisma Cloud API (nothing leaves the machine, works offline).
checkov_counts() { grep -Eo 'Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' "$1" | tr '\n' ' '; }

section "checkov on terraform/"
if checkov -d terraform --framework terraform --skip-download --quiet --compact -o cli > "$REPORTS/checkov-terraform.txt" 2>&1; then
    record checkov-tf PASS "$(checkov_counts "$REPORTS/checkov-terraform.txt")"
else
    cat "$REPORTS/checkov-terraform.txt"
    record checkov-tf FAIL "$(checkov_counts "$REPORTS/checkov-terraform.txt")"
fi

section "checkov on ${DOCKERFILES[*]:-<no Dockerfile>}"
if [ ${#DOCKERFILES[@]} -eq 0 ]; then
    record checkov-df FAIL "no Dockerfile found"
else
    args=(); for f in "${DOCKERFILES[@]}"; do args+=(-f "$f"); done
    if checkov "${args[@]}" --framework dockerfile --skip-download --quiet --compact -o cli > "$REPORTS/checkov-docker.txt" 2>&1; then
        record checkov-df PASS "$(checkov_counts "$REPORTS/checkov-docker.txt")"
    else
        cat "$REPORTS/checkov-docker.txt"
        record checkov-df FAIL "$(checkov_counts "$REPORTS/checkov-docker.txt")"
    fi
fi

# Skips are allowed only inline, each with its reason: "checkov:skip=CKV_X_1: why".
section "checkov skips carry a reason"
grep -rnE --include='*.tf' --include='Dockerfile*' 'checkov:skip=' terraform "${DOCKERFILES[@]}" > "$REPORTS/checkov-skips.txt" 2>/dev/null || true
bad_skips=$(grep -vcE 'checkov:skip=CKV2?_[A-Z0-9]+_[0-9]+: *[^ ].{15,}' "$REPORTS/checkov-skips.txt" || true)
if [ "${bad_skips:-0}" -eq 0 ]; then
    record skips PASS "$(wc -l < "$REPORTS/checkov-skips.txt") inline skip(s), each with a reason"
else
    grep -vE 'checkov:skip=CKV2?_[A-Z0-9]+_[0-9]+: *[^ ].{15,}' "$REPORTS/checkov-skips.txt"
    record skips FAIL "$bad_skips skip(s) without a reason"
fi

# --- 4. pip-audit ----------------------------------------------------------------------------------------
section "pip-audit of the pinned set (.venv)"
if [ ! -x "$PROJECT_VENV/bin/pip" ]; then
    record pip-audit FAIL ".venv not found: run make install first"
else
    "$PROJECT_VENV/bin/pip" freeze --exclude-editable --disable-pip-version-check 2>/dev/null \
        | grep -vE '^(-e |realeyez[=@ ])| @ file:' > "$REPORTS/pinned.txt"
    # pip-audit's default service is PyPI's JSON API: GET /pypi/<name>/<version>/json and its
    # "vulnerabilities" list. Probe exactly that before trusting a clean result: where the endpoint is
    # missing (no internet, or a mirror without it) pip-audit reports every package as "not found" and
    # still prints "No known vulnerabilities found".
    probe=$(python - <<'PY'
import json, urllib.request
url = "https://pypi.org/pypi/requests/2.31.0/json"
try:
    with urllib.request.urlopen(url, timeout=15) as response:
        data = json.load(response)
    print("ok" if "vulnerabilities" in data else f"{url} has no vulnerability data")
except Exception as exc:
    print(f"{url}: {exc}")
PY
)
    if [ "$probe" != "ok" ]; then
        echo "pip-audit: SKIPPED, the vulnerability service is not reachable from this machine ($probe)."
        echo "pip-audit: on a machine that reaches pypi.org, run:"
        echo "  .venv-security/bin/pip-audit --no-deps --disable-pip -r reports/security/pinned.txt"
        record pip-audit SKIP "vulnerability service unreachable ($probe); $(wc -l < "$REPORTS/pinned.txt") pins not audited"
    else
        pip-audit --no-deps --disable-pip --progress-spinner off -r "$REPORTS/pinned.txt" > "$REPORTS/pip-audit.txt" 2>&1
        rc=$?
        total=$(wc -l < "$REPORTS/pinned.txt")
        skipped=$(grep -c 'could not be audited' "$REPORTS/pip-audit.txt" || true)
        if [ $rc -ne 0 ]; then
            cat "$REPORTS/pip-audit.txt"
            record pip-audit FAIL "known vulnerabilities, see reports/security/pip-audit.txt"
        elif [ "$skipped" -ge "$total" ]; then
            record pip-audit SKIP "the service answered for none of the $total pins"
        else
            record pip-audit PASS "no known vulnerabilities in $((total - skipped)) of $total pins ($skipped not on PyPI)"
        fi
    fi
fi

# --- 5. committed secrets --------------------------------------------------------------------------------
# detect-secrets with all its plugins, except the keyword plugin on Terraform/HCL, where every
# "secret_arn = module.x.secret_arn" reference would match; those files get a focused literal check instead.
# Audited false positives are listed in .ci/secrets-allowlist.txt (path, hashed secret, reason);
# '# pragma: allowlist secret' on the line works too.
section "secrets in the files git tracks"
ALLOWLIST="$ROOT/.ci/secrets-allowlist.txt"
mapfile -t FILES < "$REPORTS/files.txt"
mapfile -t HCL_FILES < <(grep -E '\.(tf|tfvars|hcl)$' "$REPORTS/files.txt" | grep -v '\.terraform\.lock\.hcl$')
mapfile -t OTHER_FILES < <(grep -vE '\.(tf|tfvars|hcl)$' "$REPORTS/files.txt")
: > "$REPORTS/detect-secrets-hcl.json"; : > "$REPORTS/detect-secrets-other.json"
if [ ${#OTHER_FILES[@]} -gt 0 ]; then
    detect-secrets scan "${OTHER_FILES[@]}" > "$REPORTS/detect-secrets-other.json" 2>>"$REPORTS/detect-secrets.err"
fi
if [ ${#HCL_FILES[@]} -gt 0 ]; then
    detect-secrets scan --disable-plugin KeywordDetector "${HCL_FILES[@]}" \
        > "$REPORTS/detect-secrets-hcl.json" 2>>"$REPORTS/detect-secrets.err"
fi
secret_findings=$(python - "$ALLOWLIST" "$REPORTS/detect-secrets-other.json" "$REPORTS/detect-secrets-hcl.json" <<'PY'
import json, sys
allowed = set()
try:
    for line in open(sys.argv[1]):
        if line.strip() and not line.startswith("#"):
            path, hashed, *_ = line.rstrip("\n").split("\t")
            allowed.add((path, hashed))
except FileNotFoundError:
    pass
count = 0
for report in sys.argv[2:]:
    text = open(report).read()
    if not text.strip():
        continue
    for path, found in sorted(json.loads(text).get("results", {}).items()):
        for item in found:
            if (path, item["hashed_secret"]) in allowed:
                continue
            count += 1
            print(f"  {path}:{item['line_number']}: {item['type']} (hashed {item['hashed_secret']})", file=sys.stderr)
print(count)
PY
)
# Focused patterns: literal values of secret-like Terraform arguments, AWS secret keys in assignments,
# passwords inside URLs, private key blocks.
{
    if [ ${#HCL_FILES[@]} -gt 0 ]; then
        grep -nHIE '^[[:space:]]*[A-Za-z0-9_]*(password|passwd|secret|secret_string|token|api_key|private_key)[[:space:]]*=[[:space:]]*"[^"$]{8,}"' \
            "${HCL_FILES[@]}" 2>/dev/null || true
    fi
    grep -nHIE -e 'aws_secret_access_key[[:space:]]*[=:][[:space:]]*["'"'"']?[A-Za-z0-9/+=]{40}' \
         -e '://[^/[:space:]:@"'"'"']+:[^/[:space:]@"'"'"'$]{6,}@' \
         -e 'BEGIN ((RSA|EC|DSA|OPENSSH|PGP) )?PRIVATE KEY' \
         "${FILES[@]}" 2>/dev/null || true
} | grep -v 'pragma: allowlist secret' > "$REPORTS/secret-patterns.txt"
pattern_findings=$(wc -l < "$REPORTS/secret-patterns.txt")
if [ "${secret_findings:-0}" -eq 0 ] && [ "$pattern_findings" -eq 0 ]; then
    record secrets PASS "${#FILES[@]} files, nothing found"
else
    cat "$REPORTS/secret-patterns.txt"
    record secrets FAIL "detect-secrets: ${secret_findings:-0}, patterns: $pattern_findings (audit, then allowlist a false positive)"
fi

# --- summary ---------------------------------------------------------------------------------------------
printf '\n==> security summary (full outputs in reports/security/)\n'
printf '%s\n' "${SUMMARY[@]}"
if [ $failed -ne 0 ]; then
    echo "security: FAILED"
    exit 1
fi
echo "security: passed"
