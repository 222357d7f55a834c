output "address" {
  description = "Host name of the database."
  value       = aws_db_instance.main.address
}

output "port" {
  description = "Port of the database."
  value       = aws_db_instance.main.port
}

output "database_name" {
  description = "Name of the MLflow database."
  value       = aws_db_instance.main.db_name
}

output "identifier" {
  description = "RDS instance identifier (CloudWatch dimension DBInstanceIdentifier)."
  value       = aws_db_instance.main.identifier
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret (username and password) that RDS manages."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}
