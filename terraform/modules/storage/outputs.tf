output "dataset_bucket" {
  description = "Name of the DVC remote bucket."
  value       = aws_s3_bucket.dataset.id
}

output "dataset_bucket_arn" {
  description = "ARN of the DVC remote bucket."
  value       = aws_s3_bucket.dataset.arn
}

output "artifacts_bucket" {
  description = "Name of the MLflow artifact bucket."
  value       = aws_s3_bucket.artifacts.id
}

output "artifacts_bucket_arn" {
  description = "ARN of the MLflow artifact bucket."
  value       = aws_s3_bucket.artifacts.arn
}

output "access_logs_bucket" {
  description = "Name of the access-log bucket (ALB logs go under alb/)."
  value       = aws_s3_bucket.access_logs.id

  # The load balancer checks at creation that it may write to the bucket.
  depends_on = [aws_s3_bucket_policy.access_logs, aws_s3_bucket_server_side_encryption_configuration.access_logs]
}
