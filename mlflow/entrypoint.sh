#!/bin/sh
# Entrypoint of the MLflow tracking server image: database migrations first, then the server.
#
# Backend store, one of:
#   MLFLOW_BACKEND_STORE_URI   used as given (e.g. postgresql+psycopg://user@host:5432/mlflow?sslmode=require)
#   MLFLOW_DB_SECRET_ARN       Secrets Manager secret with "username" and "password" (the RDS-managed master
#                              secret), with MLFLOW_DB_HOST, MLFLOW_DB_PORT (5432) and MLFLOW_DB_NAME (mlflow).
#                              The password goes to libpq through PGPASSWORD, never into the URI or argv.
# Server: MLFLOW_DEFAULT_ARTIFACT_ROOT (s3://bucket/prefix), MLFLOW_PORT (5000), MLFLOW_WORKERS (2),
#   MLFLOW_SERVER_ALLOWED_HOSTS and MLFLOW_SERVER_CORS_ALLOWED_ORIGINS (read by mlflow itself).
# Extra arguments are passed on to `mlflow server`.
set -eu

if [ -z "${MLFLOW_BACKEND_STORE_URI:-}" ]; then
    if [ -z "${MLFLOW_DB_SECRET_ARN:-}" ] || [ -z "${MLFLOW_DB_HOST:-}" ]; then
        echo "mlflow-entrypoint: set MLFLOW_BACKEND_STORE_URI, or MLFLOW_DB_SECRET_ARN and MLFLOW_DB_HOST" >&2
        exit 64
    fi
    # Prints shell-quoted assignments of PGUSER and PGPASSWORD read from the secret.
    credentials=$(python - <<'PY'
import json, os, shlex
import boto3
secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["MLFLOW_DB_SECRET_ARN"])
values = json.loads(secret["SecretString"])
print(f"PGUSER={shlex.quote(values['username'])}; PGPASSWORD={shlex.quote(values['password'])}")
PY
)
    eval "$credentials"
    export PGUSER PGPASSWORD
    user=$(python -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ["PGUSER"], safe=""))')
    MLFLOW_BACKEND_STORE_URI="postgresql+psycopg://${user}@${MLFLOW_DB_HOST}:${MLFLOW_DB_PORT:-5432}/${MLFLOW_DB_NAME:-mlflow}?sslmode=require"
fi
export MLFLOW_BACKEND_STORE_URI

echo "mlflow-entrypoint: upgrading the database schema"
mlflow db upgrade "$MLFLOW_BACKEND_STORE_URI"

artifact_root="${MLFLOW_DEFAULT_ARTIFACT_ROOT:-}"
if [ -n "$artifact_root" ]; then
    # Clients read and write artifacts in S3 directly, with their own instance roles.
    set -- --default-artifact-root "$artifact_root" --no-serve-artifacts "$@"
fi

metrics_dir="${MLFLOW_PROMETHEUS_DIR:-/tmp/mlflow-metrics}"
mkdir -p "$metrics_dir"

echo "mlflow-entrypoint: starting the tracking server on port ${MLFLOW_PORT:-5000}"
exec mlflow server \
    --host 0.0.0.0 \
    --port "${MLFLOW_PORT:-5000}" \
    --workers "${MLFLOW_WORKERS:-2}" \
    --expose-prometheus "$metrics_dir" \
    "$@"
