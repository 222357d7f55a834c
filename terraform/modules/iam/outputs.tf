output "instance_profile_names" {
  description = "Instance profile of each service: mlflow, gateway, trainer, monitoring."
  value       = { for name, profile in aws_iam_instance_profile.service : name => profile.name }
}

output "role_arns" {
  description = "Instance role ARN of each service."
  value       = { for name, role in aws_iam_role.service : name => role.arn }
}
