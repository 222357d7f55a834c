# Three buckets: the DVC remote (dataset), the MLflow artifact store, and the access-log target.
# All: versioning, public access blocked, ACLs disabled, lifecycle rules, and a policy that denies any
# request not made over TLS. The dataset and artifact buckets use the environment's KMS key by default;
# the log bucket uses SSE-S3 because S3 server access logging and ALB access logging can only write to
# buckets whose default encryption is SSE-S3.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_elb_service_account" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

resource "aws_s3_bucket" "dataset" {
  # checkov:skip=CKV_AWS_144: cross-region replication would double storage; the dataset is rebuilt from its public source and DVC keeps the hashes in git
  # checkov:skip=CKV2_AWS_62: nothing consumes bucket events; DVC is driven by the training flow
  bucket        = "${var.name_prefix}-dataset-${local.account_id}"
  force_destroy = var.force_destroy

  tags = { Purpose = "dvc-remote" }
}

resource "aws_s3_bucket" "artifacts" {
  # checkov:skip=CKV_AWS_144: cross-region replication is not worth its cost for a single-region deployment; versioning and lifecycle rules guard against deletion
  # checkov:skip=CKV2_AWS_62: nothing consumes bucket events; MLflow writes and reads through its own API
  bucket        = "${var.name_prefix}-mlflow-artifacts-${local.account_id}"
  force_destroy = var.force_destroy

  tags = { Purpose = "mlflow-artifacts" }
}

resource "aws_s3_bucket" "access_logs" {
  # checkov:skip=CKV_AWS_18: this is the access-log target; logging it into itself would loop
  # checkov:skip=CKV_AWS_144: access logs are not replicated; they expire after the retention period
  # checkov:skip=CKV_AWS_145: S3 server access logs and ALB access logs can only be delivered to SSE-S3 buckets (SSE-KMS is not supported by either)
  # checkov:skip=CKV2_AWS_62: nothing consumes events of the log bucket
  bucket        = "${var.name_prefix}-access-logs-${local.account_id}"
  force_destroy = var.force_destroy

  tags = { Purpose = "access-logs" }
}

# --- versioning ------------------------------------------------------------------------------------------

resource "aws_s3_bucket_versioning" "dataset" {
  bucket = aws_s3_bucket.dataset.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

# --- default encryption ----------------------------------------------------------------------------------

resource "aws_s3_bucket_server_side_encryption_configuration" "dataset" {
  bucket = aws_s3_bucket.dataset.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# --- public access and ownership -------------------------------------------------------------------------

resource "aws_s3_bucket_public_access_block" "dataset" {
  bucket                  = aws_s3_bucket.dataset.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "dataset" {
  bucket = aws_s3_bucket.dataset.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# --- access logging --------------------------------------------------------------------------------------

resource "aws_s3_bucket_logging" "dataset" {
  bucket        = aws_s3_bucket.dataset.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "s3/dataset/"

  # S3 refuses a logging target whose policy does not yet admit the logging service.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_s3_bucket_logging" "artifacts" {
  bucket        = aws_s3_bucket.artifacts.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "s3/artifacts/"

  # S3 refuses a logging target whose policy does not yet admit the logging service.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

# --- lifecycle -------------------------------------------------------------------------------------------
# The dataset stays in STANDARD: DVC stores one small object per image, and STANDARD_IA bills at least
# 128 KB per object, which would cost more than it saves.

resource "aws_s3_bucket_lifecycle_configuration" "dataset" {
  bucket = aws_s3_bucket.dataset.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.dataset]
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    id     = "tier-and-expire-old-versions"
    status = "Enabled"
    filter {}
    transition {
      days          = var.artifacts_infrequent_access_days
      storage_class = "STANDARD_IA"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.artifacts]
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

# --- bucket policies: TLS only (and, for the log bucket, the two log-delivery services) -----------------

data "aws_iam_policy_document" "dataset" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.dataset.arn, "${aws_s3_bucket.dataset.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

data "aws_iam_policy_document" "artifacts" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # One statement per source bucket, each limited to that bucket's prefix and to that bucket as the source.
  statement {
    sid     = "S3ServerAccessLogsDataset"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    resources = ["${aws_s3_bucket.access_logs.arn}/s3/dataset/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.dataset.arn]
    }
  }

  statement {
    sid     = "S3ServerAccessLogsArtifacts"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    resources = ["${aws_s3_bucket.access_logs.arn}/s3/artifacts/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.artifacts.arn]
    }
  }

  # Regions launched before August 2022 deliver ALB logs from the regional ELB account ...
  statement {
    sid     = "AlbAccessLogsLegacyRegions"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
    resources = ["${aws_s3_bucket.access_logs.arn}/alb/AWSLogs/${local.account_id}/*"]
  }

  # ... newer regions from the log-delivery service principal.
  statement {
    sid     = "AlbAccessLogs"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
    resources = ["${aws_s3_bucket.access_logs.arn}/alb/AWSLogs/${local.account_id}/*"]
  }
}

resource "aws_s3_bucket_policy" "dataset" {
  bucket = aws_s3_bucket.dataset.id
  policy = data.aws_iam_policy_document.dataset.json

  depends_on = [aws_s3_bucket_public_access_block.dataset]
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  policy = data.aws_iam_policy_document.artifacts.json

  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
