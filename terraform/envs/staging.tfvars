# terraform plan -var-file=envs/staging.tfvars -var image_tag=<git sha>   (or: make tf-plan ENV=staging)
environment       = "staging"
aws_region        = "us-east-1"
vpc_cidr          = "10.40.0.0/16"
route53_zone_name = "realeyez.example.com"
domain_name       = "staging.realeyez.example.com"
admin_cidrs       = ["203.0.113.0/24"]
prefect_api_url   = "https://api.prefect.cloud/api/accounts/ACCOUNT_ID/workspaces/WORKSPACE_ID"

# Cheaper than prod: one database zone, one gateway, no deletion protection, buckets removable.
db_instance_class        = "db.t3.micro"
db_multi_az              = false
db_deletion_protection   = false
db_backup_retention_days = 7
alb_deletion_protection  = false
force_destroy_buckets    = true
gateway_instance_type    = "t3.medium"
gateway_min_size         = 1
gateway_max_size         = 2
gateway_desired_capacity = 1
log_retention_days       = 365
monthly_budget_usd       = 200

trainer_instance_type    = "g5.xlarge"
trainer_use_spot         = true
trainer_desired_capacity = 0
trainer_max_hours        = 4
