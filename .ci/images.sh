#!/usr/bin/env bash
# make images: build the gateway, mlflow and trainer images and push them to the environment's ECR
# repositories, tagged with the commit (git SHA, 12 characters), which .ci/terraform.sh then deploys.
#
#   .ci/images.sh [build|push|all] [ENV]       (default: all, ENV from the environment or staging)
#   env: ENV, AWS_REGION (us-east-1), REGISTRY (<account>.dkr.ecr.<region>.amazonaws.com, looked up with
#        the AWS CLI when unset), IMAGE_TAG (default: the commit), DRY_RUN=1 (print the commands only)
#
# Needs a Docker engine (with BuildKit) and, to push, AWS credentials allowed to push to the repositories.
# ECR tags are immutable: a tag already in the repository is not pushed again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. .ci/lib.sh

action="${1:-all}"
ENV="${2:-${ENV:-staging}}"
check_env "$ENV"
case "$action" in build|push|all) ;; *) echo "usage: $0 [build|push|all] [staging|prod]" >&2; exit 64 ;; esac

TAG=$(image_tag)
REGION="${AWS_REGION:-us-east-1}"
PROJECT=realeyez
# image name -> Dockerfile (build context: the repository root)
declare -A DOCKERFILES=([gateway]=serving/Dockerfile [mlflow]=mlflow/Dockerfile [trainer]=flows/Dockerfile)

run() {
    echo "+ $*"
    if [ "${DRY_RUN:-0}" != 1 ]; then "$@"; fi
}

if [ "${DRY_RUN:-0}" != 1 ] && ! docker info >/dev/null 2>&1; then
    echo "images: no Docker engine reachable (docker info failed); nothing built" >&2
    exit 69
fi
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    echo "images: warning: the working tree has uncommitted changes; the tag $TAG will not describe them" >&2
fi

if [ "$action" != build ]; then
    if [ -z "${REGISTRY:-}" ]; then
        if [ "${DRY_RUN:-0}" = 1 ]; then
            REGISTRY="ACCOUNT.dkr.ecr.$REGION.amazonaws.com"
        else
            REGISTRY="$(aws sts get-caller-identity --query Account --output text).dkr.ecr.$REGION.amazonaws.com"
        fi
    fi
    if [ "${DRY_RUN:-0}" = 1 ]; then
        echo "+ aws ecr get-login-password --region $REGION | docker login --username AWS --password-stdin $REGISTRY"
    else
        aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY"
    fi
fi

for name in gateway mlflow trainer; do
    local_ref="$PROJECT-$name:$TAG"
    if [ "$action" != push ]; then
        run docker build --file "${DOCKERFILES[$name]}" --tag "$local_ref" \
            --label "org.opencontainers.image.revision=$(git rev-parse HEAD)" \
            --label "org.opencontainers.image.source=realeyez" .
    fi
    if [ "$action" != build ]; then
        repo="$PROJECT-$ENV/$name"
        if [ "${DRY_RUN:-0}" != 1 ] && aws ecr describe-images --region "$REGION" --repository-name "$repo" \
                --image-ids "imageTag=$TAG" >/dev/null 2>&1; then
            echo "images: $repo:$TAG is already in ECR (tags are immutable), not pushed again"
            continue
        fi
        run docker tag "$local_ref" "$REGISTRY/$repo:$TAG"
        run docker push "$REGISTRY/$repo:$TAG"
    fi
done
echo "images: $action done for $ENV, tag $TAG"
