output "gateway_url" {
  description = "Public URL of the prediction API."
  value       = "https://${local.gateway_host}"
}

output "tracking_uri" {
  description = "MLflow tracking URI (reachable from admin_cidrs and from the VPC's NAT address)."
  value       = local.tracking_uri
}

output "grafana_url" {
  description = "Grafana URL (reachable from admin_cidrs)."
  value       = "https://${local.grafana_host}"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.main.dns_name
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (CloudWatch dimension)."
  value       = aws_lb.main.arn_suffix
}

output "target_group_arn_suffixes" {
  description = "ARN suffix of the gateway and mlflow target groups (CloudWatch dimension)."
  value = {
    gateway = aws_lb_target_group.gateway.arn_suffix
    mlflow  = aws_lb_target_group.mlflow.arn_suffix
  }
}

output "grafana_target_group_arn" {
  description = "Target group of Grafana."
  value       = aws_lb_target_group.grafana.arn
}

output "asg_names" {
  description = "Auto Scaling group of each service."
  value = {
    gateway = aws_autoscaling_group.gateway.name
    mlflow  = aws_autoscaling_group.mlflow.name
    trainer = aws_autoscaling_group.trainer.name
  }
}

output "prefect_api_key_secret_arn" {
  description = "Secret to put the Prefect API key into (aws secretsmanager put-secret-value)."
  value       = aws_secretsmanager_secret.prefect_api_key.arn
}
