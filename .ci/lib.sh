# Shared by the .ci scripts (sourced, not run).

# The immutable tag of this commit's images; .ci/images.sh pushes it and .ci/terraform.sh deploys it.
image_tag() {
    if [ -n "${IMAGE_TAG:-}" ]; then
        echo "$IMAGE_TAG"
    else
        git rev-parse --short=12 HEAD
    fi
}

# Environments that have envs/<env>.tfvars and envs/<env>.backend.hcl.
check_env() {
    case "${1:-}" in
        staging|prod) ;;
        *) echo "unknown environment '${1:-}': use ENV=staging or ENV=prod" >&2; exit 64 ;;
    esac
}
