# terraform init -reconfigure -backend-config=envs/prod.backend.hcl
bucket       = "realeyez-terraform-state"
key          = "realeyez/prod/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
use_lockfile = true
