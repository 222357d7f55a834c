variable "name_prefix" {
  description = "Prefix of every name, e.g. realeyez-staging."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, prod); tagged on every instance."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the target groups."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets of the load balancer."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Private subnets of the instances."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security group of each tier: alb, mlflow, gateway, trainer."
  type        = map(string)
}

variable "instance_profile_names" {
  description = "Instance profile of each service: mlflow, gateway, trainer."
  type        = map(string)
}

variable "log_group_names" {
  description = "CloudWatch log group of each service: mlflow, gateway, trainer."
  type        = map(string)
}

variable "repository_urls" {
  description = "ECR repository URL of each image: gateway, mlflow, trainer."
  type        = map(string)
}

variable "image_tag" {
  description = "Tag (git SHA) of the images to run."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the Prefect API key secret and the WAF log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the WAF log group."
  type        = number
}

variable "access_logs_bucket" {
  description = "Bucket receiving the load balancer's access logs (prefix alb/)."
  type        = string
}

variable "artifacts_bucket" {
  description = "MLflow artifact bucket."
  type        = string
}

variable "dataset_bucket" {
  description = "DVC remote bucket."
  type        = string
}

variable "db_address" {
  description = "Host name of the PostgreSQL backend store."
  type        = string
}

variable "db_port" {
  description = "Port of the PostgreSQL backend store."
  type        = number
}

variable "db_name" {
  description = "Database of MLflow."
  type        = string
}

variable "db_secret_arn" {
  description = "RDS-managed secret with the database credentials."
  type        = string
}

variable "route53_zone_name" {
  description = "Public hosted zone holding the service names and the certificate validation records."
  type        = string
}

variable "domain_name" {
  description = "Base name of the environment: api.<domain>, mlflow.<domain>, grafana.<domain>."
  type        = string
}

variable "admin_cidrs" {
  description = "CIDRs allowed to reach the MLflow UI/API and Grafana through the load balancer (at most 3)."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) >= 1 && length(var.admin_cidrs) <= 3
    error_message = "Give one to three CIDRs (a listener rule holds at most five condition values)."
  }
}

variable "nat_public_ip" {
  description = "Public address of the NAT gateway; the trainer and the gateway reach MLflow from it."
  type        = string
}

variable "alb_deletion_protection" {
  description = "Refuse to delete the load balancer."
  type        = bool
  default     = true
}

variable "ami_id" {
  description = "Amazon Linux 2023 AMI of the MLflow and gateway instances."
  type        = string
}

variable "mlflow_instance_type" {
  description = "Instance type of the MLflow tracking server."
  type        = string
  default     = "t3.small"
}

variable "gateway_instance_type" {
  description = "Instance type of the serving gateway (the model server runs beside it)."
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

variable "model_uri" {
  description = "Model the gateway serves, resolved through the MLflow registry."
  type        = string
  default     = "models:/realeyez@champion"
}

variable "mlflow_port" {
  description = "Port of the MLflow tracking server."
  type        = number
  default     = 5000
}

variable "gateway_port" {
  description = "Port of the serving gateway."
  type        = number
  default     = 8000
}

variable "grafana_port" {
  description = "Port of Grafana."
  type        = number
  default     = 3000
}

# --- GPU trainer ---

variable "trainer_instance_type" {
  description = "GPU instance type of training runs (the seed used p3.2xlarge; see README.md about P3 and AMIs)."
  type        = string

  validation {
    # Current Deep Learning AMIs (NVIDIA driver 590 and later) no longer support the V100 of P3 instances.
    condition     = !startswith(var.trainer_instance_type, "p3.") || var.trainer_ami_id != ""
    error_message = "P3 (V100) instances need trainer_ami_id: a GPU AMI whose NVIDIA driver still supports Volta (see terraform/README.md)."
  }
}

variable "trainer_use_spot" {
  description = "Run training instances on Spot capacity."
  type        = bool
  default     = true
}

variable "trainer_ami_ssm_parameter" {
  description = "SSM parameter naming the GPU AMI (NVIDIA driver, Docker and the NVIDIA container toolkit)."
  type        = string
  default     = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
}

variable "trainer_ami_id" {
  description = "Explicit GPU AMI; overrides trainer_ami_ssm_parameter (needed for P3: see README.md)."
  type        = string
  default     = ""
}

variable "trainer_desired_capacity" {
  description = "Training instances running now: 0 when idle, 1 to start the Prefect worker."
  type        = number
  default     = 0
}

variable "trainer_max_hours" {
  description = "A training instance scales its group back to zero after this many hours."
  type        = number
}

variable "trainer_volume_size" {
  description = "Root volume of a training instance in GiB (image, dataset, checkpoints)."
  type        = number
  default     = 100
}

variable "prefect_api_url" {
  description = "Prefect API the worker polls (Prefect Cloud workspace URL or a self-hosted server)."
  type        = string
}

variable "prefect_work_pool" {
  description = "Prefect work pool of the GPU worker."
  type        = string
  default     = "realeyez-gpu"
}
