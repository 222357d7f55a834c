output "log_group_names" {
  description = "Log group of each service: mlflow, gateway, trainer, monitoring."
  value       = { for name, group in aws_cloudwatch_log_group.service : name => group.name }
}

output "log_group_arns" {
  description = "Log group ARN of each service."
  value       = { for name, group in aws_cloudwatch_log_group.service : name => group.arn }
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms and the budget."
  value       = aws_sns_topic.alarms.arn
}

output "grafana_admin_secret_arn" {
  description = "Secret holding Grafana's admin password."
  value       = aws_secretsmanager_secret.grafana_admin.arn
}

output "monitoring_instance_id" {
  description = "Instance running Prometheus and Grafana."
  value       = aws_instance.monitoring.id
}
