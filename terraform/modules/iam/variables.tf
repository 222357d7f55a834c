variable "name_prefix" {
  description = "Prefix of every name, e.g. realeyez-staging."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's KMS key (buckets, secrets, images)."
  type        = string
}

variable "dataset_bucket_arn" {
  description = "ARN of the DVC remote bucket."
  type        = string
}

variable "artifacts_bucket_arn" {
  description = "ARN of the MLflow artifact bucket."
  type        = string
}

variable "db_secret_arn" {
  description = "ARN of the RDS-managed master-user secret (read by the MLflow server only)."
  type        = string
}

variable "prefect_api_key_secret_arn" {
  description = "ARN of the secret holding the Prefect API key (read by the trainer only)."
  type        = string
}

variable "grafana_admin_secret_arn" {
  description = "ARN of the secret holding Grafana's admin password (read by the monitoring instance only)."
  type        = string
}

variable "ecr_repository_arns" {
  description = "ECR repository ARN of each image: gateway, mlflow, trainer."
  type        = map(string)
}

variable "log_group_arns" {
  description = "CloudWatch log group ARN of each service: mlflow, gateway, trainer, monitoring."
  type        = map(string)
}

variable "trainer_asg_name" {
  description = "Name of the trainer's Auto Scaling group (the trainer may scale only that group to zero)."
  type        = string
}
