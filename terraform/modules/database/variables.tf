variable "name_prefix" {
  description = "Prefix of every name, e.g. realeyez-staging."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (two zones) of the DB subnet group."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the database (ingress from the MLflow servers only)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights, the master secret and the log groups."
  type        = string
}

variable "instance_class" {
  description = "DB instance class; db.t3.micro is the seed's choice for cost."
  type        = string
  default     = "db.t3.micro"
}

variable "engine_version" {
  description = "PostgreSQL version (major, or major.minor)."
  type        = string
  default     = "16"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version."
  type        = string
  default     = "postgres16"
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "Standby in the second zone."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Refuse to delete the instance."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL logs."
  type        = number
}

variable "database_name" {
  description = "Name of the MLflow database."
  type        = string
  default     = "mlflow"
}

variable "master_username" {
  description = "Master user; its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "mlflow"
}
