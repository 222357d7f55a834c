# Log groups of the services (the containers write to them with Docker's awslogs driver).

locals {
  services = toset(["mlflow", "gateway", "trainer", "monitoring"])
}

resource "aws_cloudwatch_log_group" "service" {
  for_each = local.services

  name              = "/${var.name_prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}
