#!/usr/bin/env bash
# make tf-plan / make tf-apply / make tf-validate: Terraform for one environment.
#
#   .ci/terraform.sh plan ENV       init against envs/ENV.backend.hcl, plan with envs/ENV.tfvars and
#                                   image_tag = this commit, save the plan to build/terraform/ENV.tfplan
#                                   (and its text to build/terraform/ENV.tfplan.txt for review)
#   .ci/terraform.sh apply ENV      apply exactly that saved plan (fails when there is none)
#   .ci/terraform.sh validate       fmt -check and validate, without a backend or credentials
#
# Each environment has its own working directory (TF_DATA_DIR=build/terraform/ENV/.terraform), so the
# two states never mix. Where the AWS provider is present locally (TF_PLUGIN_DIR, default
# /opt/tf-plugins) validate uses it instead of the registry.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. .ci/lib.sh
ROOT=$(pwd)
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
# A CLI configuration named but missing only produces warnings; leave it out then.
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then unset TF_CLI_CONFIG_FILE; fi

action="${1:-}"
ENV="${2:-${ENV:-}}"
OUT="$ROOT/build/terraform"
mkdir -p "$OUT"

if ! command -v terraform >/dev/null; then
    echo "terraform: no terraform binary on PATH (1.11 or newer is needed)" >&2
    exit 69
fi

case "$action" in
    plan|apply)
        check_env "$ENV"
        export TF_DATA_DIR="$OUT/$ENV/.terraform"
        plan="$OUT/$ENV.tfplan"
        cd terraform
        terraform init -input=false -reconfigure -backend-config="envs/$ENV.backend.hcl"
        if [ "$action" = plan ]; then
            tag=$(image_tag)
            terraform plan -input=false -lock-timeout=5m \
                -var-file="envs/$ENV.tfvars" -var "image_tag=$tag" -out="$plan"
            terraform show -no-color "$plan" > "$plan.txt"
            echo "terraform: plan for $ENV (images $tag) saved to ${plan#"$ROOT"/}"
        else
            if [ ! -f "$plan" ]; then
                echo "terraform: no saved plan for $ENV; run make tf-plan ENV=$ENV first" >&2
                exit 66
            fi
            terraform apply -input=false -lock-timeout=5m "$plan"
            rm -f "$plan"   # a plan is applied once
            terraform output
        fi
        ;;
    validate)
        # A scratch copy, so that init leaves no lock file or .terraform in the source tree.
        work="$OUT/validate"
        rm -rf "$work" && mkdir -p "$work" && cp -r terraform/. "$work/"
        export TF_DATA_DIR="$work/.terraform"
        plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
        init_args=(-input=false -backend=false)
        if [ -d "$plugin_dir" ]; then init_args+=(-plugin-dir="$plugin_dir"); fi
        terraform fmt -check -recursive terraform
        (cd "$work" && terraform init "${init_args[@]}" >/dev/null && terraform validate)
        ;;
    *)
        echo "usage: $0 plan|apply ENV  |  $0 validate" >&2
        exit 64
        ;;
esac
