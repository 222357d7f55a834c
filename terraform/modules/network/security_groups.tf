# Least-privilege security groups. The only ingress from the internet is HTTPS (443) on the load balancer;
# every other rule names a source or destination security group. Egress to the internet is 443 only
# (ECR, S3, Secrets Manager, CloudWatch, SSM, the Prefect API), through the NAT gateway.

resource "aws_security_group" "alb" {
  # checkov:skip=CKV2_AWS_5: attached to the load balancer (modules/compute); checkov does not follow a security group through module variables (bridgecrewio/checkov#3010)
  name        = "${var.name_prefix}-alb"
  description = "Application load balancer: HTTPS from the internet, HTTP to the services"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name_prefix}-alb" }
}

resource "aws_security_group" "mlflow" {
  # checkov:skip=CKV2_AWS_5: attached to the MLflow launch template (modules/compute); checkov does not follow a security group through module variables (bridgecrewio/checkov#3010)
  name        = "${var.name_prefix}-mlflow"
  description = "MLflow tracking server instances"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name_prefix}-mlflow" }
}

resource "aws_security_group" "gateway" {
  # checkov:skip=CKV2_AWS_5: attached to the gateway launch template (modules/compute); checkov does not follow a security group through module variables (bridgecrewio/checkov#3010)
  name        = "${var.name_prefix}-gateway"
  description = "Serving gateway instances (gateway and model server)"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name_prefix}-gateway" }
}

resource "aws_security_group" "trainer" {
  # checkov:skip=CKV2_AWS_5: attached to the trainer launch template (modules/compute); checkov does not follow a security group through module variables (bridgecrewio/checkov#3010)
  name        = "${var.name_prefix}-trainer"
  description = "GPU training instances running the Prefect worker; no ingress"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name_prefix}-trainer" }
}

resource "aws_security_group" "monitoring" {
  # checkov:skip=CKV2_AWS_5: attached to the monitoring instance (modules/observability); checkov does not follow a security group through module variables (bridgecrewio/checkov#3010)
  name        = "${var.name_prefix}-monitoring"
  description = "Prometheus and Grafana instance"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name_prefix}-monitoring" }
}

resource "aws_security_group" "database" {
  # checkov:skip=CKV2_AWS_5: attached to the RDS instance (modules/database); checkov does not follow a security group through module variables (bridgecrewio/checkov#3010)
  name        = "${var.name_prefix}-database"
  description = "RDS PostgreSQL backend store of MLflow; no egress"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name_prefix}-database" }
}

# --- load balancer ---------------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from the internet (the only public ingress)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_mlflow" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the MLflow tracking server"
  ip_protocol                  = "tcp"
  from_port                    = var.mlflow_port
  to_port                      = var.mlflow_port
  referenced_security_group_id = aws_security_group.mlflow.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_gateway" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the serving gateway"
  ip_protocol                  = "tcp"
  from_port                    = var.gateway_port
  to_port                      = var.gateway_port
  referenced_security_group_id = aws_security_group.gateway.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_grafana" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To Grafana"
  ip_protocol                  = "tcp"
  from_port                    = var.grafana_port
  to_port                      = var.grafana_port
  referenced_security_group_id = aws_security_group.monitoring.id
}

# --- MLflow tracking server ------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "mlflow_from_alb" {
  security_group_id            = aws_security_group.mlflow.id
  description                  = "MLflow API and UI from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.mlflow_port
  to_port                      = var.mlflow_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "mlflow_from_monitoring" {
  security_group_id            = aws_security_group.mlflow.id
  description                  = "Prometheus scrapes /metrics"
  ip_protocol                  = "tcp"
  from_port                    = var.mlflow_port
  to_port                      = var.mlflow_port
  referenced_security_group_id = aws_security_group.monitoring.id
}

resource "aws_vpc_security_group_egress_rule" "mlflow_to_database" {
  security_group_id            = aws_security_group.mlflow.id
  description                  = "To the PostgreSQL backend store"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_egress_rule" "mlflow_https" {
  security_group_id = aws_security_group.mlflow.id
  description       = "HTTPS to AWS APIs (S3, ECR, Secrets Manager, CloudWatch, SSM)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- serving gateway -------------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "gateway_from_alb" {
  security_group_id            = aws_security_group.gateway.id
  description                  = "Prediction API from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.gateway_port
  to_port                      = var.gateway_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_ingress_rule" "gateway_from_monitoring" {
  security_group_id            = aws_security_group.gateway.id
  description                  = "Prometheus scrapes /metrics"
  ip_protocol                  = "tcp"
  from_port                    = var.gateway_port
  to_port                      = var.gateway_port
  referenced_security_group_id = aws_security_group.monitoring.id
}

resource "aws_vpc_security_group_egress_rule" "gateway_https" {
  security_group_id = aws_security_group.gateway.id
  description       = "HTTPS to AWS APIs and to the MLflow registry through the load balancer"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- GPU trainer -----------------------------------------------------------------------------------------

resource "aws_vpc_security_group_egress_rule" "trainer_https" {
  security_group_id = aws_security_group.trainer.id
  description       = "HTTPS to the Prefect API, MLflow (through the load balancer) and AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- monitoring ------------------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "grafana_from_alb" {
  security_group_id            = aws_security_group.monitoring.id
  description                  = "Grafana from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.grafana_port
  to_port                      = var.grafana_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "monitoring_to_gateway" {
  security_group_id            = aws_security_group.monitoring.id
  description                  = "Scrape the gateway's /metrics"
  ip_protocol                  = "tcp"
  from_port                    = var.gateway_port
  to_port                      = var.gateway_port
  referenced_security_group_id = aws_security_group.gateway.id
}

resource "aws_vpc_security_group_egress_rule" "monitoring_to_mlflow" {
  security_group_id            = aws_security_group.monitoring.id
  description                  = "Scrape MLflow's /metrics"
  ip_protocol                  = "tcp"
  from_port                    = var.mlflow_port
  to_port                      = var.mlflow_port
  referenced_security_group_id = aws_security_group.mlflow.id
}

resource "aws_vpc_security_group_egress_rule" "monitoring_https" {
  security_group_id = aws_security_group.monitoring.id
  description       = "HTTPS to AWS APIs (EC2 discovery, CloudWatch, ECR, SSM)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- database --------------------------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "database_from_mlflow" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the MLflow tracking server only"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.mlflow.id
}
