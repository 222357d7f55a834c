variable "project" {
  description = "Project name, the first part of every resource name."
  type        = string
  default     = "realeyez"
}

variable "environment" {
  description = "Environment: staging or prod."
  type        = string

  validation {
    condition     = contains(["staging", "prod"], var.environment)
    error_message = "environment must be staging or prod."
  }
}

variable "aws_region" {
  description = "AWS region of the deployment."
  type        = string
  default     = "us-east-1"
}

variable "availability_zone_letters" {
  description = "The two availability zones, as letters of the region (us-east-1 + a = us-east-1a)."
  type        = list(string)
  default     = ["a", "b"]

  validation {
    condition     = length(var.availability_zone_letters) == 2
    error_message = "Give exactly two zone letters."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "route53_zone_name" {
  description = "Existing public hosted zone, e.g. realeyez.example.com."
  type        = string
}

variable "domain_name" {
  description = "Base name of the environment inside the zone: api., mlflow. and grafana. are prefixed to it."
  type        = string
}

variable "admin_cidrs" {
  description = "One to three CIDRs allowed to reach the MLflow UI/API and Grafana."
  type        = list(string)
}

variable "image_tag" {
  description = "Tag (git SHA) of the gateway, mlflow and trainer images; .ci/terraform.sh passes the current commit."
  type        = string

  validation {
    condition     = length(var.image_tag) > 0 && var.image_tag != "latest"
    error_message = "image_tag must be an immutable tag (a git SHA), not empty or latest."
  }
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group."
  type        = number
  default     = 365
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic (empty: none)."
  type        = string
  default     = ""
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget; the seed worked within 200 USD."
  type        = number
  default     = 200
}

variable "force_destroy_buckets" {
  description = "Let terraform destroy delete non-empty buckets (staging clean-up only)."
  type        = bool
  default     = false
}

# --- database ---

variable "db_instance_class" {
  description = "RDS instance class of the MLflow backend store."
  type        = string
  default     = "db.t3.micro"
}

variable "db_multi_az" {
  description = "Standby database in the second zone."
  type        = bool
  default     = true
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated database backups."
  type        = number
  default     = 7
}

# --- services ---

variable "mlflow_instance_type" {
  description = "Instance type of the MLflow tracking server."
  type        = string
  default     = "t3.small"
}

variable "gateway_instance_type" {
  description = "Instance type of the serving gateway and model server."
  type        = string
  default     = "t3.medium"
}

variable "gateway_min_size" {
  description = "Minimum number of gateway instances."
  type        = number
  default     = 1
}

variable "gateway_max_size" {
  description = "Maximum number of gateway instances."
  type        = number
  default     = 2
}

variable "gateway_desired_capacity" {
  description = "Number of gateway instances."
  type        = number
  default     = 1
}

variable "monitoring_instance_type" {
  description = "Instance type of the Prometheus/Grafana instance."
  type        = string
  default     = "t3.small"
}

variable "alb_deletion_protection" {
  description = "Refuse to delete the load balancer."
  type        = bool
  default     = true
}

variable "model_uri" {
  description = "Registered model the gateway serves."
  type        = string
  default     = "models:/realeyez@champion"
}

# --- training ---

variable "trainer_instance_type" {
  description = "GPU instance type of training runs. The seed used p3.2xlarge (V100): it needs trainer_ami_id (README.md)."
  type        = string
  default     = "g5.xlarge"
}

variable "trainer_use_spot" {
  description = "Run training instances on Spot capacity."
  type        = bool
  default     = true
}

variable "trainer_ami_id" {
  description = "Explicit GPU AMI (empty: the latest Deep Learning Base OSS NVIDIA driver AMI, Amazon Linux 2023)."
  type        = string
  default     = ""
}

variable "trainer_desired_capacity" {
  description = "Training instances to run (0 when idle)."
  type        = number
  default     = 0
}

variable "trainer_max_hours" {
  description = "A training instance scales its group back to zero after this many hours; an alarm fires too."
  type        = number
  default     = 4
}

variable "prefect_api_url" {
  description = "Prefect API of the GPU worker (Prefect Cloud workspace URL or a self-hosted server)."
  type        = string
}

variable "prefect_work_pool" {
  description = "Prefect work pool the GPU worker serves."
  type        = string
  default     = "realeyez-gpu"
}
