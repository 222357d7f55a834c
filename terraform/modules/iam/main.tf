# One instance role per service, each limited to the buckets, secrets, log group, image repository and key
# that the service uses. Actions are listed one by one; "*" resources appear only for actions that AWS does
# not scope to resources (ecr:GetAuthorizationToken, ec2:Describe*, cloudwatch:GetMetricData/ListMetrics).
# Every role also gets AmazonSSMManagedInstanceCore: operators use Session Manager instead of SSH.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  services  = toset(["mlflow", "gateway", "trainer", "monitoring"])
  policies = {
    mlflow     = data.aws_iam_policy_document.mlflow.json
    gateway    = data.aws_iam_policy_document.gateway.json
    trainer    = data.aws_iam_policy_document.trainer.json
    monitoring = data.aws_iam_policy_document.monitoring.json
  }
  trainer_asg_arn = join(":", [
    "arn", local.partition, "autoscaling", data.aws_region.current.name, data.aws_caller_identity.current.account_id,
    "autoScalingGroup", "*", "autoScalingGroupName/${var.trainer_asg_name}",
  ])
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  for_each = local.services

  name               = "${var.name_prefix}-${each.key}"
  description        = "Instance role of the ${each.key} instances"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_policy" "service" {
  for_each = local.services

  name        = "${var.name_prefix}-${each.key}"
  description = "What the ${each.key} instances need, and nothing else"
  policy      = local.policies[each.key]
}

resource "aws_iam_role_policy_attachment" "service" {
  for_each = local.services

  role       = aws_iam_role.service[each.key].name
  policy_arn = aws_iam_policy.service[each.key].arn
}

resource "aws_iam_role_policy_attachment" "ssm" {
  for_each = local.services

  role       = aws_iam_role.service[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "service" {
  for_each = local.services

  name = "${var.name_prefix}-${each.key}"
  role = aws_iam_role.service[each.key].name
}

# --- MLflow tracking server: database secret, artifact bucket (read/write), its image and log group -------

data "aws_iam_policy_document" "mlflow" {
  statement {
    sid       = "EcrLogin"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullOwnImage"
    effect    = "Allow"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [var.ecr_repository_arns["mlflow"]]
  }
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [var.log_group_arns["mlflow"], "${var.log_group_arns["mlflow"]}:*"]
  }
  statement {
    sid       = "ReadDatabaseSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds"]
    resources = [var.db_secret_arn]
  }
  statement {
    sid       = "ListArtifacts"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket"]
    resources = [var.artifacts_bucket_arn]
  }
  statement {
    sid       = "ReadWriteArtifacts"
    effect    = "Allow"
    actions   = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    resources = ["${var.artifacts_bucket_arn}/*"]
  }
  statement {
    sid       = "UseKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

# --- Serving gateway (and the model server beside it): read the registered model's artifacts -------------

data "aws_iam_policy_document" "gateway" {
  statement {
    sid       = "EcrLogin"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullOwnImage"
    effect    = "Allow"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [var.ecr_repository_arns["gateway"]]
  }
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [var.log_group_arns["gateway"], "${var.log_group_arns["gateway"]}:*"]
  }
  statement {
    sid       = "ListArtifacts"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket"]
    resources = [var.artifacts_bucket_arn]
  }
  statement {
    sid       = "ReadArtifacts"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.artifacts_bucket_arn}/*"]
  }
  statement {
    sid       = "DecryptArtifacts"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

# --- GPU trainer: dataset (DVC pull/push), artifacts (read/write), Prefect API key, scale itself to zero --

data "aws_iam_policy_document" "trainer" {
  statement {
    sid       = "EcrLogin"
    effect    = "Allow"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullOwnImage"
    effect    = "Allow"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [var.ecr_repository_arns["trainer"]]
  }
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [var.log_group_arns["trainer"], "${var.log_group_arns["trainer"]}:*"]
  }
  statement {
    sid       = "ReadPrefectApiKey"
    effect    = "Allow"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    resources = [var.prefect_api_key_secret_arn]
  }
  statement {
    sid       = "ListBuckets"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket"]
    resources = [var.dataset_bucket_arn, var.artifacts_bucket_arn]
  }
  statement {
    sid       = "ReadWriteObjects"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.dataset_bucket_arn}/*", "${var.artifacts_bucket_arn}/*"]
  }
  statement {
    sid       = "UseKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "ScaleOwnGroupToZero"
    effect    = "Allow"
    actions   = ["autoscaling:SetDesiredCapacity"]
    resources = [local.trainer_asg_arn]
  }
}

# --- Monitoring: EC2 service discovery for Prometheus, CloudWatch metrics for Grafana, Grafana secret -----

data "aws_iam_policy_document" "monitoring" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [var.log_group_arns["monitoring"], "${var.log_group_arns["monitoring"]}:*"]
  }
  statement {
    sid    = "DiscoverScrapeTargets"
    effect = "Allow"
    # Describe actions cannot be scoped to resources.
    actions   = ["ec2:DescribeAvailabilityZones", "ec2:DescribeInstances"]
    resources = ["*"]
  }
  statement {
    sid    = "ReadCloudWatchMetrics"
    effect = "Allow"
    # Metric reads cannot be scoped to resources.
    actions   = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"]
    resources = ["*"]
  }
  statement {
    sid       = "ReadGrafanaAdminSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    resources = [var.grafana_admin_secret_arn]
  }
  statement {
    sid       = "DecryptSecret"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}
