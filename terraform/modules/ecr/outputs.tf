output "repository_urls" {
  description = "Repository URL of each image (gateway, mlflow, trainer)."
  value       = { for name, repo in aws_ecr_repository.images : name => repo.repository_url }
}

output "repository_arns" {
  description = "Repository ARN of each image (gateway, mlflow, trainer)."
  value       = { for name, repo in aws_ecr_repository.images : name => repo.arn }
}
