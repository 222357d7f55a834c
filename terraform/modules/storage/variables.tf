variable "name_prefix" {
  description = "Prefix of every name, e.g. realeyez-staging."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the default encryption of the dataset and artifact buckets."
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version is kept in the dataset and artifact buckets."
  type        = number
  default     = 90
}

variable "artifacts_infrequent_access_days" {
  description = "Days after which MLflow artifacts move to STANDARD_IA."
  type        = number
  default     = 90
}

variable "access_log_retention_days" {
  description = "Days access logs (S3 and load balancer) are kept."
  type        = number
  default     = 365
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete non-empty buckets (never in prod)."
  type        = bool
  default     = false
}
