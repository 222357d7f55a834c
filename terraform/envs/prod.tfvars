# terraform plan -var-file=envs/prod.tfvars -var image_tag=<git sha>   (or: make tf-plan ENV=prod)
environment       = "prod"
aws_region        = "us-east-1"
vpc_cidr          = "10.50.0.0/16"
route53_zone_name = "realeyez.example.com"
domain_name       = "realeyez.example.com"
admin_cidrs       = ["203.0.113.0/24"]
prefect_api_url   = "https://api.prefect.cloud/api/accounts/ACCOUNT_ID/workspaces/WORKSPACE_ID"

db_instance_class        = "db.t3.micro"
db_multi_az              = true
db_deletion_protection   = true
db_backup_retention_days = 14
alb_deletion_protection  = true
force_destroy_buckets    = false
gateway_instance_type    = "t3.medium"
gateway_min_size         = 2
gateway_max_size         = 4
gateway_desired_capacity = 2
log_retention_days       = 365
monthly_budget_usd       = 200

trainer_instance_type    = "g5.xlarge"
trainer_use_spot         = true
trainer_desired_capacity = 0
trainer_max_hours        = 4
