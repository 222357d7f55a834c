output "key_arn" {
  description = "ARN of the environment's customer-managed KMS key."
  value       = aws_kms_key.main.arn
}

output "key_id" {
  description = "ID of the environment's customer-managed KMS key."
  value       = aws_kms_key.main.key_id
}

output "alias_name" {
  description = "Alias of the key."
  value       = aws_kms_alias.main.name
}
