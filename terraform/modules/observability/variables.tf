variable "name_prefix" {
  description = "Prefix of every name, e.g. realeyez-staging."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, prod); the Prometheus scrape configuration filters on it."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the log groups, the SNS topic and the Grafana secret."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the service log groups."
  type        = number
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic; empty for none (subscribe later, e.g. a chat webhook)."
  type        = string
  default     = ""
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of the account; notifications at 50, 80 and 100 percent."
  type        = number
  default     = 200
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (CloudWatch dimension LoadBalancer)."
  type        = string
}

variable "target_group_arn_suffixes" {
  description = "ARN suffix of the gateway and mlflow target groups (CloudWatch dimension TargetGroup)."
  type        = map(string)
}

variable "asg_names" {
  description = "Auto Scaling group of gateway, mlflow and trainer (CloudWatch dimension AutoScalingGroupName)."
  type        = map(string)
}

variable "db_identifier" {
  description = "RDS instance identifier."
  type        = string
}

variable "db_allocated_storage_gb" {
  description = "Allocated storage of the database, for the free-space alarm."
  type        = number
}

variable "trainer_max_hours" {
  description = "Alarm when a training instance has been running longer than this."
  type        = number
}

variable "alb_5xx_threshold" {
  description = "5xx responses per 5 minutes (load balancer or targets) that raise an alarm."
  type        = number
  default     = 10
}

variable "latency_p95_threshold_seconds" {
  description = "p95 target response time over 5 minutes that raises an alarm."
  type        = number
  default     = 1
}

variable "network_out_threshold_bytes" {
  description = "Bytes sent by the gateway group in 5 minutes that raise an alarm (runaway or exfiltration)."
  type        = number
  default     = 5000000000
}

variable "network_in_threshold_bytes" {
  description = "Bytes received by the gateway group in 5 minutes that raise an alarm (flood)."
  type        = number
  default     = 5000000000
}

# --- Prometheus / Grafana instance ---

variable "subnet_id" {
  description = "Private subnet of the monitoring instance."
  type        = string
}

variable "security_group_id" {
  description = "Security group of the monitoring instance."
  type        = string
}

variable "instance_profile_name" {
  description = "Instance profile of the monitoring instance."
  type        = string
}

variable "ami_id" {
  description = "Amazon Linux 2023 AMI."
  type        = string
}

variable "instance_type" {
  description = "Type of the monitoring instance."
  type        = string
  default     = "t3.small"
}

variable "grafana_target_group_arn" {
  description = "Target group of Grafana on the load balancer."
  type        = string
}

variable "grafana_url" {
  description = "Public URL of Grafana (behind the load balancer)."
  type        = string
}

variable "prometheus_image" {
  description = "Prometheus image, pinned."
  type        = string
  default     = "prom/prometheus:v3.5.0"
}

variable "grafana_image" {
  description = "Grafana image, pinned."
  type        = string
  default     = "grafana/grafana:12.1.1"
}

variable "gateway_port" {
  description = "Port of the gateway's /metrics."
  type        = number
  default     = 8000
}

variable "mlflow_port" {
  description = "Port of MLflow's /metrics."
  type        = number
  default     = 5000
}
