output "tracking_uri" {
  description = "MLflow tracking URI (MLFLOW_TRACKING_URI)."
  value       = module.compute.tracking_uri
}

output "gateway_url" {
  description = "Public URL of the prediction gateway."
  value       = module.compute.gateway_url
}

output "grafana_url" {
  description = "Grafana URL."
  value       = module.compute.grafana_url
}

output "dataset_bucket" {
  description = "DVC remote bucket: dvc remote add -d s3 s3://<bucket>/dvc."
  value       = module.storage.dataset_bucket
}

output "artifacts_bucket" {
  description = "MLflow artifact bucket."
  value       = module.storage.artifacts_bucket
}

output "access_logs_bucket" {
  description = "Bucket of the S3 and load balancer access logs."
  value       = module.storage.access_logs_bucket
}

output "ecr_repository_urls" {
  description = "Where make images pushes the gateway, mlflow and trainer images."
  value       = module.ecr.repository_urls
}

output "trainer_asg_name" {
  description = "Scale this group to 1 to start a GPU worker, to 0 to stop it."
  value       = module.compute.asg_names["trainer"]
}

output "prefect_api_key_secret_arn" {
  description = "Put the Prefect API key here before the first training run."
  value       = module.compute.prefect_api_key_secret_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms and the budget."
  value       = module.observability.alarm_topic_arn
}

output "kms_key_arn" {
  description = "The environment's KMS key."
  value       = module.kms.key_arn
}
