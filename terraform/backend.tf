# Remote state in S3 with S3-native locking. The bucket, key and region differ per environment and are
# given at init time:
#   terraform init -backend-config=envs/staging.backend.hcl
# (see README.md: the state bucket is created once, outside this configuration).
terraform {
  backend "s3" {}
}
