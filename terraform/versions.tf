terraform {
  # 1.10: S3-native state locking (use_lockfile) and ephemeral resources; 1.11: write-only arguments.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
