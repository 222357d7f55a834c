variable "name_prefix" {
  description = "Prefix of every name, e.g. realeyez-staging."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the images."
  type        = string
}

variable "images_to_keep" {
  description = "Tagged images kept per repository (older ones expire)."
  type        = number
  default     = 30
}
