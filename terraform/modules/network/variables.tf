variable "name_prefix" {
  description = "Prefix of every name, e.g. realeyez-staging."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; split into two public and two private /20 subnets."
  type        = string
}

variable "availability_zones" {
  description = "Exactly two availability zones."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "Give exactly two availability zones."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow-log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the VPC flow-log group."
  type        = number
}

variable "mlflow_port" {
  description = "Port of the MLflow tracking server on its instances."
  type        = number
  default     = 5000
}

variable "gateway_port" {
  description = "Port of the serving gateway on its instances."
  type        = number
  default     = 8000
}

variable "grafana_port" {
  description = "Port of Grafana on the monitoring instance."
  type        = number
  default     = 3000
}
