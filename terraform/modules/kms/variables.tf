variable "name_prefix" {
  description = "Prefix of every name, e.g. realeyez-staging."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion takes effect."
  type        = number
  default     = 30
}
