# RealEyez on AWS: network, storage, database, IAM, image registry, compute and observability, one state per
# environment (envs/<env>.tfvars and envs/<env>.backend.hcl). See README.md.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

# The two zones are named explicitly so that the set never grows when AWS adds a zone.
data "aws_availability_zones" "selected" {
  state = "available"
  filter {
    name   = "zone-name"
    values = [for letter in var.availability_zone_letters : "${var.aws_region}${letter}"]
  }
}

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

locals {
  name_prefix = "${var.project}-${var.environment}"
  al2023_ami  = nonsensitive(data.aws_ssm_parameter.al2023.value)
}

module "kms" {
  source = "./modules/kms"

  name_prefix = local.name_prefix
}

module "network" {
  source = "./modules/network"

  name_prefix        = local.name_prefix
  vpc_cidr           = var.vpc_cidr
  availability_zones = data.aws_availability_zones.selected.names
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "storage" {
  source = "./modules/storage"

  name_prefix               = local.name_prefix
  kms_key_arn               = module.kms.key_arn
  access_log_retention_days = var.log_retention_days
  force_destroy             = var.force_destroy_buckets
}

module "database" {
  source = "./modules/database"

  name_prefix           = local.name_prefix
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.network.security_group_ids["database"]
  kms_key_arn           = module.kms.key_arn
  instance_class        = var.db_instance_class
  multi_az              = var.db_multi_az
  deletion_protection   = var.db_deletion_protection
  backup_retention_days = var.db_backup_retention_days
  log_retention_days    = var.log_retention_days
}

module "ecr" {
  source = "./modules/ecr"

  name_prefix = local.name_prefix
  kms_key_arn = module.kms.key_arn
}

module "iam" {
  source = "./modules/iam"

  name_prefix                = local.name_prefix
  kms_key_arn                = module.kms.key_arn
  dataset_bucket_arn         = module.storage.dataset_bucket_arn
  artifacts_bucket_arn       = module.storage.artifacts_bucket_arn
  db_secret_arn              = module.database.master_user_secret_arn
  prefect_api_key_secret_arn = module.compute.prefect_api_key_secret_arn
  grafana_admin_secret_arn   = module.observability.grafana_admin_secret_arn
  ecr_repository_arns        = module.ecr.repository_arns
  log_group_arns             = module.observability.log_group_arns
  trainer_asg_name           = "${local.name_prefix}-trainer"
}

module "compute" {
  source = "./modules/compute"

  name_prefix              = local.name_prefix
  environment              = var.environment
  vpc_id                   = module.network.vpc_id
  public_subnet_ids        = module.network.public_subnet_ids
  private_subnet_ids       = module.network.private_subnet_ids
  security_group_ids       = module.network.security_group_ids
  instance_profile_names   = module.iam.instance_profile_names
  log_group_names          = module.observability.log_group_names
  repository_urls          = module.ecr.repository_urls
  image_tag                = var.image_tag
  kms_key_arn              = module.kms.key_arn
  log_retention_days       = var.log_retention_days
  access_logs_bucket       = module.storage.access_logs_bucket
  artifacts_bucket         = module.storage.artifacts_bucket
  dataset_bucket           = module.storage.dataset_bucket
  db_address               = module.database.address
  db_port                  = module.database.port
  db_name                  = module.database.database_name
  db_secret_arn            = module.database.master_user_secret_arn
  route53_zone_name        = var.route53_zone_name
  domain_name              = var.domain_name
  admin_cidrs              = var.admin_cidrs
  nat_public_ip            = module.network.nat_public_ip
  alb_deletion_protection  = var.alb_deletion_protection
  ami_id                   = local.al2023_ami
  mlflow_instance_type     = var.mlflow_instance_type
  gateway_instance_type    = var.gateway_instance_type
  gateway_min_size         = var.gateway_min_size
  gateway_max_size         = var.gateway_max_size
  gateway_desired_capacity = var.gateway_desired_capacity
  model_uri                = var.model_uri
  trainer_instance_type    = var.trainer_instance_type
  trainer_use_spot         = var.trainer_use_spot
  trainer_ami_id           = var.trainer_ami_id
  trainer_desired_capacity = var.trainer_desired_capacity
  trainer_max_hours        = var.trainer_max_hours
  prefect_api_url          = var.prefect_api_url
  prefect_work_pool        = var.prefect_work_pool
}

module "observability" {
  source = "./modules/observability"

  name_prefix               = local.name_prefix
  environment               = var.environment
  kms_key_arn               = module.kms.key_arn
  log_retention_days        = var.log_retention_days
  alarm_email               = var.alarm_email
  monthly_budget_usd        = var.monthly_budget_usd
  alb_arn_suffix            = module.compute.alb_arn_suffix
  target_group_arn_suffixes = module.compute.target_group_arn_suffixes
  asg_names                 = module.compute.asg_names
  db_identifier             = module.database.identifier
  db_allocated_storage_gb   = 20
  trainer_max_hours         = var.trainer_max_hours
  subnet_id                 = module.network.private_subnet_ids[0]
  security_group_id         = module.network.security_group_ids["monitoring"]
  instance_profile_name     = module.iam.instance_profile_names["monitoring"]
  ami_id                    = local.al2023_ami
  instance_type             = var.monitoring_instance_type
  grafana_target_group_arn  = module.compute.grafana_target_group_arn
  grafana_url               = module.compute.grafana_url
}
