# MLflow tracking server and serving gateway: launch templates (IMDSv2 only, encrypted volumes, no public
# address, detailed monitoring) and Auto Scaling groups behind the load balancer. A new image tag makes a new
# launch template version, which starts a rolling instance refresh.

data "aws_region" "current" {}

locals {
  region        = data.aws_region.current.name
  registry      = split("/", var.repository_urls["gateway"])[0]
  tracking_uri  = "https://${local.mlflow_host}"
  model_port    = 5001
  private_hosts = concat(["10.*", "192.168.*"], [for i in range(16, 32) : "172.${i}.*"])

  common_tags = {
    Environment = var.environment
  }

  user_data = {
    mlflow = templatefile("${path.module}/templates/mlflow.sh.tftpl", {
      common = templatefile("${path.module}/templates/common.sh.tftpl", {
        region   = local.region
        registry = local.registry
        image    = "${var.repository_urls["mlflow"]}:${var.image_tag}"
      })
      region           = local.region
      image            = "${var.repository_urls["mlflow"]}:${var.image_tag}"
      log_group        = var.log_group_names["mlflow"]
      db_secret_arn    = var.db_secret_arn
      db_address       = var.db_address
      db_port          = var.db_port
      db_name          = var.db_name
      artifacts_bucket = var.artifacts_bucket
      mlflow_host      = local.mlflow_host
      allowed_hosts    = join(",", concat([local.mlflow_host, "localhost", "127.0.0.1"], local.private_hosts))
      port             = var.mlflow_port
    })
    gateway = templatefile("${path.module}/templates/gateway.sh.tftpl", {
      common = templatefile("${path.module}/templates/common.sh.tftpl", {
        region   = local.region
        registry = local.registry
        image    = "${var.repository_urls["gateway"]}:${var.image_tag}"
      })
      region       = local.region
      image        = "${var.repository_urls["gateway"]}:${var.image_tag}"
      log_group    = var.log_group_names["gateway"]
      tracking_uri = local.tracking_uri
      model_uri    = var.model_uri
      model_port   = local.model_port
      environment  = var.environment
    })
  }
}

resource "aws_launch_template" "mlflow" {
  name                   = "${var.name_prefix}-mlflow"
  description            = "MLflow tracking server"
  image_id               = var.ami_id
  instance_type          = var.mlflow_instance_type
  ebs_optimized          = true
  update_default_version = true
  vpc_security_group_ids = [var.security_group_ids["mlflow"]]
  user_data              = base64encode(local.user_data["mlflow"])

  iam_instance_profile {
    name = var.instance_profile_names["mlflow"]
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

  # Encrypted with the account's EBS key: the Auto Scaling service-linked role can use it without a grant.
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 30
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.common_tags, { Name = "${var.name_prefix}-mlflow", Service = "mlflow" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.common_tags, { Name = "${var.name_prefix}-mlflow", Service = "mlflow" })
  }
}

resource "aws_launch_template" "gateway" {
  name                   = "${var.name_prefix}-gateway"
  description            = "Serving gateway and model server"
  image_id               = var.ami_id
  instance_type          = var.gateway_instance_type
  ebs_optimized          = true
  update_default_version = true
  vpc_security_group_ids = [var.security_group_ids["gateway"]]
  user_data              = base64encode(local.user_data["gateway"])

  iam_instance_profile {
    name = var.instance_profile_names["gateway"]
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
      volume_size           = 30
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.common_tags, { Name = "${var.name_prefix}-gateway", Service = "gateway" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.common_tags, { Name = "${var.name_prefix}-gateway", Service = "gateway" })
  }
}

resource "aws_autoscaling_group" "mlflow" {
  name                      = "${var.name_prefix}-mlflow"
  min_size                  = 1
  max_size                  = 1
  desired_capacity          = 1
  vpc_zone_identifier       = var.private_subnet_ids
  target_group_arns         = [aws_lb_target_group.mlflow.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 300
  enabled_metrics           = ["GroupDesiredCapacity", "GroupInServiceInstances"]

  launch_template {
    id      = aws_launch_template.mlflow.id
    version = aws_launch_template.mlflow.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 0
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name_prefix}-mlflow"
    propagate_at_launch = true
  }
}

resource "aws_autoscaling_group" "gateway" {
  name                      = "${var.name_prefix}-gateway"
  min_size                  = var.gateway_min_size
  max_size                  = var.gateway_max_size
  desired_capacity          = var.gateway_desired_capacity
  vpc_zone_identifier       = var.private_subnet_ids
  target_group_arns         = [aws_lb_target_group.gateway.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 300
  enabled_metrics           = ["GroupDesiredCapacity", "GroupInServiceInstances"]

  launch_template {
    id      = aws_launch_template.gateway.id
    version = aws_launch_template.gateway.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name_prefix}-gateway"
    propagate_at_launch = true
  }
}

resource "aws_autoscaling_policy" "gateway_cpu" {
  name                   = "${var.name_prefix}-gateway-cpu-target"
  autoscaling_group_name = aws_autoscaling_group.gateway.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = 60
  }
}
