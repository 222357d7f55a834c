output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.main.id
}

output "public_subnet_ids" {
  description = "Public subnets (load balancer, NAT gateway)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (instances, database)."
  value       = aws_subnet.private[*].id
}

output "nat_public_ip" {
  description = "Public address the private instances use to reach the internet."
  value       = aws_eip.nat.public_ip
}

output "security_group_ids" {
  description = "Security group of each tier."
  value = {
    alb        = aws_security_group.alb.id
    mlflow     = aws_security_group.mlflow.id
    gateway    = aws_security_group.gateway.id
    trainer    = aws_security_group.trainer.id
    monitoring = aws_security_group.monitoring.id
    database   = aws_security_group.database.id
  }
}
