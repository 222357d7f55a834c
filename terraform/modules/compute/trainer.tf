# GPU training: a launch template for the GPU instance type (spot by default) and an Auto Scaling group
# that stays at zero until a training run is due (scale it to 1: see README.md). The instance runs a Prefect
# worker of the GPU work pool and scales the group back to zero after trainer_max_hours at the latest.

data "aws_ssm_parameter" "trainer_ami" {
  count = var.trainer_ami_id == "" ? 1 : 0
  name  = var.trainer_ami_ssm_parameter
}

resource "aws_secretsmanager_secret" "prefect_api_key" {
  # checkov:skip=CKV2_AWS_57: a Prefect Cloud API key is rotated in Prefect Cloud, which has no Secrets Manager rotation hook; the value is put with the AWS CLI (README.md)
  name                    = "${var.name_prefix}/prefect-api-key"
  description             = "Prefect API key of the GPU worker; value set out of band, never in Terraform"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

locals {
  trainer_asg_name = "${var.name_prefix}-trainer"
  trainer_ami      = var.trainer_ami_id != "" ? var.trainer_ami_id : nonsensitive(data.aws_ssm_parameter.trainer_ami[0].value)
  trainer_user_data = templatefile("${path.module}/templates/trainer.sh.tftpl", {
    common = templatefile("${path.module}/templates/common.sh.tftpl", {
      region   = local.region
      registry = local.registry
      image    = "${var.repository_urls["trainer"]}:${var.image_tag}"
    })
    region             = local.region
    image              = "${var.repository_urls["trainer"]}:${var.image_tag}"
    log_group          = var.log_group_names["trainer"]
    prefect_secret_arn = aws_secretsmanager_secret.prefect_api_key.arn
    prefect_api_url    = var.prefect_api_url
    work_pool          = var.prefect_work_pool
    tracking_uri       = local.tracking_uri
    dataset_bucket     = var.dataset_bucket
    environment        = var.environment
    max_hours          = var.trainer_max_hours
    asg_name           = local.trainer_asg_name
  })
}

resource "aws_launch_template" "trainer" {
  name                   = "${var.name_prefix}-trainer"
  description            = "GPU training instance running a Prefect worker"
  image_id               = local.trainer_ami
  instance_type          = var.trainer_instance_type
  ebs_optimized          = true
  update_default_version = true
  vpc_security_group_ids = [var.security_group_ids["trainer"]]
  user_data              = base64encode(local.trainer_user_data)

  iam_instance_profile {
    name = var.instance_profile_names["trainer"]
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.trainer_volume_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.common_tags, { Name = local.trainer_asg_name, Service = "trainer" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.common_tags, { Name = local.trainer_asg_name, Service = "trainer" })
  }

}

resource "aws_autoscaling_group" "trainer" {
  name                  = local.trainer_asg_name
  min_size              = 0
  max_size              = 1
  desired_capacity      = var.trainer_desired_capacity
  vpc_zone_identifier   = var.private_subnet_ids
  health_check_type     = "EC2"
  capacity_rebalance    = var.trainer_use_spot
  max_instance_lifetime = 604800
  enabled_metrics       = ["GroupDesiredCapacity", "GroupInServiceInstances"]

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = 0
      on_demand_percentage_above_base_capacity = var.trainer_use_spot ? 0 : 100
      spot_allocation_strategy                 = "price-capacity-optimized"
    }

    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.trainer.id
        version            = aws_launch_template.trainer.latest_version
      }
    }
  }

  tag {
    key                 = "Name"
    value               = local.trainer_asg_name
    propagate_at_launch = true
  }

  lifecycle {
    # Scaled by operators and by the instance itself between applies.
    ignore_changes = [desired_capacity]
  }
}
